import { AUDIT_JS } from "./script-audit.js";
import { CORE_JS } from "./script-core.js";
import { FLEET_JS } from "./script-fleet.js";
import { RELEASES_JS } from "./script-releases.js";

/**
 * The dashboard's script, plain browser JavaScript (no build step, nothing fetched from
 * elsewhere), one closure made of the parts in script-*.ts. Everything hosts report is
 * untrusted: it is put on the page with textContent, never as HTML. Live updates come from
 * /api/v1/events read with fetch, so the token travels in a header (EventSource cannot send one)
 * and never appears in a URL.
 */
export const DASHBOARD_JS = `"use strict";
(function () {${CORE_JS}${FLEET_JS}${RELEASES_JS}${AUDIT_JS}})();
`;
