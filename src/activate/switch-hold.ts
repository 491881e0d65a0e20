import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { STATE_DIR_MODE } from "../core/atomic.js";
import { GuardError } from "../core/errors.js";
import { run } from "../core/exec.js";
import { runningSwitchUnits, SWITCH_UNIT_PREFIX, systemdRuns } from "./transient-unit.js";

/**
 * What keeps a second switch out while one runs, held by the switch process itself.
 *
 * The host lock names the oscd that took it; killed (-9, or its unit restarted by the very switch
 * it started), it is stale, and the next oscd takes it over and recovers, while the
 * switch-to-configuration it started may still be running: without systemd that switch is only a
 * child in its own session, and nothing waited for it. So every switch also holds a FIFO in the
 * state directory: the engine opens it and hands it to switch-to-configuration as descriptor 3,
 * which the switch and everything it starts inherit. It stays held while any of them lives,
 * whatever happens to the oscd that started it, and it is taken before the switch starts (the
 * child inherits it at fork), so there is no moment when a switch runs and it is free.
 *
 * Whether anyone holds it is one non-blocking read: a FIFO with no writer left reads end-of-file,
 * one that still has a writer has nothing to read yet (EAGAIN). Where systemd runs, the switch
 * runs in a transient unit instead (transient-unit.ts), which does not inherit the descriptor:
 * its unit is waited for by name.
 */

export class SwitchRunningError extends GuardError {
  constructor(what: string, waitedMs: number) {
    super(
      "switch-running",
      `${what} is still running after ${Math.round(waitedMs / 1000)}s: another switch would run at the same time, so nothing was started`,
      "it is the switch of an interrupted deployment; wait for it to end, or end it if it hangs (kill the pid named), then run oscd recover",
    );
  }
}

/** The FIFO, made when missing; anything else at its path (a file, a link) is replaced. */
export async function ensureHold(path: string): Promise<void> {
  const st = lstatOrUndefined(path);
  if (st?.isFIFO()) return;
  mkdirSync(dirname(path), { recursive: true, mode: STATE_DIR_MODE });
  if (st) rmSync(path, { force: true });
  // Node has no mkfifo(3). Made once per host; a race with another oscd making it is harmless.
  const r = await run("mkfifo", ["-m", "600", path], { timeoutMs: 30_000, missingHint: "install coreutils (mkfifo)" });
  if (r.exitCode !== 0 && !lstatOrUndefined(path)?.isFIFO()) {
    throw new GuardError("switch-hold", `cannot make ${path}: ${r.stderr.trim().split("\n").pop() ?? `mkfifo exited ${r.exitCode}`}`, "check the state directory (/var/lib/oscd): it must be root's and writable");
  }
}

/** Opens the FIFO to hand to a switch (read-write: never blocks, and counts as a writer). */
export function openHold(path: string): number {
  const fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
  if (!fstatSync(fd).isFIFO()) {
    closeSync(fd);
    throw new GuardError("switch-hold", `${path} is not a FIFO`, "remove it; oscd makes it again");
  }
  return fd;
}

/** Whether some process (a switch, or something it started) still holds the FIFO. */
export function holdTaken(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
  try {
    if (!fstatSync(fd).isFIFO()) return false;
    const buf = Buffer.alloc(64);
    // Bytes nobody should have written are drained; what decides is EOF (no writer) or EAGAIN.
    for (let i = 0; i < 1024; i++) {
      try {
        if (readSync(fd, buf, 0, buf.length, null) === 0) return false;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EAGAIN") return true;
        throw e;
      }
    }
    return true;
  } finally {
    closeSync(fd);
  }
}

/** The processes holding the FIFO, as `pid (command)`, for messages. */
export function holdersOf(path: string): string[] {
  let ino: number;
  let dev: number;
  try {
    ({ ino, dev } = statSync(path));
  } catch {
    return [];
  }
  const out: string[] = [];
  let pids: string[] = [];
  try {
    pids = readdirSync("/proc").filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    const holds = fds.some((fd) => {
      try {
        const s = statSync(`/proc/${pid}/fd/${fd}`);
        return s.ino === ino && s.dev === dev;
      } catch {
        return false;
      }
    });
    if (!holds || Number(pid) === process.pid) continue;
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
    } catch {
      cmd = "?";
    }
    out.push(`pid ${pid} (${cmd.replace(/[^\x20-\x7e]/g, "?").slice(0, 160)})`);
    if (out.length >= 5) break;
  }
  return out;
}

export interface WaitOptions {
  timeoutMs: number;
  log?: (line: string) => void;
  /** Also wait for switch units of systemd (a deployment was interrupted: its unit may still run). */
  units?: boolean;
  pollMs?: number;
}

/**
 * Waits until no switch runs: the FIFO free and, with `units` where systemd runs, no
 * `oscd-switch-*` unit active. Throws SwitchRunningError naming what still runs after `timeoutMs`.
 */
export async function waitForSwitchToEnd(path: string, o: WaitOptions): Promise<void> {
  const started = Date.now();
  const unitsToo = o.units === true && (await systemdRuns());
  let said = false;
  for (;;) {
    const held = holdTaken(path);
    const units = unitsToo ? await runningUnits() : [];
    if (!held && units.length === 0) {
      if (said) o.log?.("the earlier switch ended");
      return;
    }
    const what = [...(held ? [`switch-to-configuration holding ${path} (${holdersOf(path).join(", ") || "its holder is not visible here"})`] : []), ...units.map((u) => `unit ${u}`)].join(" and ");
    const waited = Date.now() - started;
    if (waited >= o.timeoutMs) throw new SwitchRunningError(what, waited);
    if (!said) o.log?.(`waiting for the switch of an interrupted deployment to end: ${what}`);
    said = true;
    await new Promise((r) => setTimeout(r, o.pollMs ?? 250));
  }
}

async function runningUnits(): Promise<string[]> {
  const r = await run("systemctl", ["list-units", "--all", "--plain", "--no-legend", "--type=service", `${SWITCH_UNIT_PREFIX}*`], { timeoutMs: 30_000 });
  return r.exitCode === 0 ? runningSwitchUnits(r.stdout) : [];
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
