import type { FleetRow } from "../../server/index.js";
import { fetchFleet, readServerToken, ServerClient } from "../../server-client/index.js";
import { printJson, printTable } from "../output.js";

/** `oscd status --server URL`: the fleet as the control server sees it. */
function ago(ms: number | null, now: number): string {
  if (ms === null) return "never";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : s < 86_400 ? `${Math.floor(s / 3600)}h ago` : `${Math.floor(s / 86_400)}d ago`;
}

export async function printServerStatus(url: string, o: { json?: boolean; tokenFile?: string; serverTokenFile?: string }): Promise<void> {
  const hosts: FleetRow[] = await fetchFleet(new ServerClient(url, await readServerToken(o.serverTokenFile ?? o.tokenFile)));
  if (o.json) return printJson({ hosts });
  const now = Date.now();
  printTable(
    ["HOST", "CHANNEL", "DESIRED", "CURRENT", "GEN", "REBOOT", "LAST SEEN", "STATUS"],
    hosts.map((h) => [
      h.host,
      h.channel ?? "-",
      h.desired ? `${h.desired.version} #${h.desired.sequence}` : "-",
      h.current.version ? `${h.current.version}${h.current.sequence !== null ? ` #${h.current.sequence}` : ""}` : "-",
      h.current.generation === null ? "-" : String(h.current.generation),
      h.current.rebootNeeded === null ? "-" : h.current.rebootNeeded ? "needed" : "no",
      ago(h.lastSeen, now),
      h.reason ? `${h.status}: ${h.reason.replace(/[\r\n\u2028\u2029]+/g, " ").slice(0, 80)}` : h.status,
    ]),
  );
}
