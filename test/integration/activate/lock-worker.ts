/**
 * One taker of the host lock, as its own process (test/integration/activate/lock.test.ts):
 * waits for the start signal, tries the lock (`tries` times), and while holding it appends enter/leave
 * lines to a shared log (O_APPEND, one write each), so overlapping holders show in the log.
 */
import { appendFileSync, existsSync } from "node:fs";
import { acquireLock, BusyError } from "../../../src/activate/lock.js";

const [lockPath, log, go, holdMs] = process.argv.slice(2) as [string, string, string, string];
while (!existsSync(go)) await new Promise((r) => setTimeout(r, 5));
// Many short tries each: every release and takeover is a moment two takers can collide.
const tries = Number(process.argv[6] ?? "1");
for (let i = 0; i < tries; i++) {
  try {
    const lock = await acquireLock(lockPath, "lock-worker");
    appendFileSync(log, `enter ${process.pid}\n`);
    await new Promise((r) => setTimeout(r, Number(holdMs)));
    appendFileSync(log, `leave ${process.pid}\n`);
    await lock.release();
  } catch (e) {
    if (!(e instanceof BusyError)) {
      appendFileSync(log, `error ${process.pid} ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    }
    appendFileSync(log, `busy ${process.pid}\n`);
  }
  await new Promise((r) => setTimeout(r, Math.random() * 3));
}
