/** The one-step upgrade on a machine: source → build on the machine → activation engine. */
export { upgrade, type UpgradeRequest, type UpgradeResult } from "./upgrade.js";
