import { compactRange, type ActivationResult } from "../../activate/light.js";
import { writeStdout } from "../output.js";

export function printActivation(r: ActivationResult): void {
  const out = (s: string) => writeStdout(s + "\n");
  if (r.recovery) out(`finished an interrupted deployment first: ${r.recovery.outcome} (it stopped at "${r.recovery.interruptedAt}")`);
  if (r.outcome === "unchanged") out(`already running ${r.toplevel}; nothing to do`);
  else if (r.outcome === "dry-run") out(`dry run of ${r.toplevel}: nothing changed`);
  else out(`${r.mode}: ${r.previous.currentSystem ?? "(none)"} → ${r.toplevel}${r.generation !== undefined ? ` (generation ${r.generation})` : ""}`);
  if (r.outcome === "committed" && r.release.channel !== undefined) {
    const version = r.release.version?.replace(/[^\x20-\x7e]/g, "?");
    out(`release: ${version ? `version ${version}, ` : ""}channel ${r.release.channel} sequence ${r.release.sequence ?? "?"}`);
  }
  if (r.reboot.needed) out(`reboot needed: ${r.reboot.reasons.join(", ")} changed`);
  if (r.retention && r.retention.removed.length > 0) out(`retention: removed generation(s) ${compactRange(r.retention.removed)}, ${r.retention.kept} kept`);
  if (r.retentionError) out(`retention failed (the deployment stands): ${r.retentionError}`);
}
