/**
 * One caller of the engine's switch, as its own process (test/integration/activate/switch-hold.test.ts):
 * writes its pid, then runs switchTo without systemd, its progress lines appended to `lines`.
 */
import { appendFileSync, writeFileSync } from "node:fs";
import { switchTo } from "../../../src/activate/switch.js";

const [hold, toplevel, pidFile, lines] = process.argv.slice(2) as [string, string, string, string];
writeFileSync(pidFile, String(process.pid));
try {
  await switchTo(toplevel, "switch", hold, { systemd: false, timeoutMs: 120_000, onLine: (l) => appendFileSync(lines, `${l}\n`) });
  appendFileSync(lines, "done\n");
} catch (e) {
  appendFileSync(lines, `error ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
