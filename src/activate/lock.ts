import { mkdir, open, readFile, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { GuardError } from "../core/errors.js";

export class BusyError extends GuardError {
  constructor(holder: LockHolder) {
    super(
      "busy",
      `another oscd deployment is running on this host (pid ${holder.pid}, ${holder.command}, since ${holder.since})`,
      "wait for it to finish (oscd status shows it); it is never queued behind your command",
    );
  }
}

interface LockHolder {
  pid: number;
  /** Kernel start time of the process, so a reused pid is not mistaken for the holder. */
  startTime: string;
  command: string;
  since: string;
}

async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime) comes after the parenthesised command name, which may hold spaces.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

async function alive(h: LockHolder): Promise<boolean> {
  return (await processStartTime(h.pid)) === h.startTime;
}

export interface Lock {
  release(): Promise<void>;
  /** True when the previous holder died without releasing (its journal may need recovery). */
  tookOverStale: boolean;
}

/**
 * One deployment per host at a time. The lock is a file made with O_EXCL holding the pid and
 * its start time; a holder killed with -9 leaves it behind, and the next start takes it over.
 */
export async function acquireLock(path: string, command: string): Promise<Lock> {
  await mkdir(dirname(path), { recursive: true });
  const me: LockHolder = { pid: process.pid, startTime: (await processStartTime(process.pid)) ?? "", command, since: new Date().toISOString() };
  let tookOverStale = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const h = await open(path, "wx", 0o644);
      await h.writeFile(JSON.stringify(me));
      await h.sync();
      await h.close();
      return { tookOverStale, release: async () => void (await rm(path, { force: true })) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let holder: LockHolder | undefined;
    try {
      holder = JSON.parse(await readFile(path, "utf8")) as LockHolder;
    } catch {
      holder = undefined; // torn or vanished: treat as stale
    }
    if (holder && (await alive(holder))) throw new BusyError(holder);
    await rm(path, { force: true });
    tookOverStale = true;
  }
  throw new Error(`cannot take the lock ${path}`);
}
