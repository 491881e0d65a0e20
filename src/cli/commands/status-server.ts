import type { FleetCounts, FleetRow } from "../../server/index.js";
import { fetchFleet, readServerToken, ServerClient } from "../../server-client/index.js";
import { printJson, table } from "../output.js";
import { ago } from "../rollout-format.js";

const clean = (s: string, max: number) => s.replace(/[^\x20-\x7e\u00a0-\uffff]/g, "?").slice(0, max);

/** `9 ok · 1 rolled back · 1 failed · 0 drift · 1 offline` (the other states only when some host is in them). */
export function countsLine(c: FleetCounts, total: number): string {
  const parts = [`${c.ok} ok`, `${c["rolled-back"]} rolled back`, `${c.failed} failed`, `${c.drift} drift`, `${c.offline} offline`];
  for (const k of ["deploying", "new", "unknown"] as const) if (c[k] > 0) parts.push(`${c[k]} ${k}`);
  return `${total} host(s): ${parts.join(" · ")}`;
}

/** The agent's own state: `suspended`, `fetch failing: …`, or `-`. */
function agentCell(h: FleetRow): string {
  if (!h.agent) return "-";
  const bits = [h.agent.suspended ? "suspended" : "", h.agent.fetchError ? `fetch failing: ${h.agent.fetchError.message}` : ""].filter(Boolean);
  return bits.length ? clean(bits.join("; "), 60) : "ok";
}

/** `oscd status --server URL`: the fleet as the control server sees it, counts and causes first. */
export async function printServerStatus(url: string, o: { json?: boolean; serverTokenFile?: string }): Promise<void> {
  const { hosts, counts } = await fetchFleet(new ServerClient(url, await readServerToken(o.serverTokenFile)));
  if (o.json) return printJson({ counts, hosts });
  const now = Date.now();
  process.stdout.write(countsLine(counts, hosts.length) + "\n");
  const rows = [["HOST", "STATUS", "CAUSE", "DESIRED", "CURRENT", "GEN", "REBOOT", "AGENT", "LAST SEEN"]];
  for (const h of hosts) {
    rows.push([
      h.host,
      h.status,
      h.reason ? clean(h.reason.replace(/[\r\n\u2028\u2029]+/g, " "), 100) : "-",
      h.desired ? `${h.channel ?? "?"} ${h.desired.version} #${h.desired.sequence}${h.desired.expiry === "soon" ? " (expiring)" : h.desired.expiry === "expired" ? " (EXPIRED)" : ""}` : h.channel ? `${h.channel} -` : "-",
      h.current.version ? `${h.current.version}${h.current.sequence !== null ? ` #${h.current.sequence}` : ""}` : "-",
      h.current.generation === null ? "-" : String(h.current.generation),
      h.current.rebootNeeded === null ? "-" : h.current.rebootNeeded ? "needed" : "no",
      agentCell(h),
      ago(h.lastSeen, now).replace(/^-$/, "never"),
    ]);
  }
  process.stdout.write(table(rows));
  // Releases hosts are served that expire soon: hosts refuse an expired one (a stopped CI shows).
  const seen = new Set<string>();
  for (const h of hosts) {
    const d = h.desired;
    if (!d || d.expiresAt === null || (d.expiry !== "soon" && d.expiry !== "expired") || seen.has(`${h.channel}#${d.sequence}`)) continue;
    seen.add(`${h.channel}#${d.sequence}`);
    const when = new Date(d.expiresAt).toISOString();
    process.stderr.write(`oscd: warning: ${h.channel} #${d.sequence} (${d.version}) ${d.expiry === "expired" ? `expired at ${when}: hosts refuse it` : `expires at ${when}`}; publish a newer one or refresh it (oscd publish --refresh --server URL)\n`);
  }
}
