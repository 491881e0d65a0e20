import { createHash, randomBytes } from "node:crypto";
import { closeSync, fstatSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { GuardError, OscdError } from "../core/errors.js";
import { STATE_DIR_MODE } from "../core/atomic.js";

// Synchronous file calls, as for the other small state files (core/atomic.ts): the lock is taken
// and released on every deployment's path.

export class BusyError extends GuardError {
  constructor(holder: LockHolder) {
    super(
      "busy",
      `another oscd deployment is running on this host (pid ${holder.pid}, ${oneLine(holder.command)}, since ${oneLine(holder.since)})`,
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
  /** Unique per taking: names this very lock file, so a takeover and a release know what they act on. */
  nonce: string;
}

// The lock file is root's, but its text still goes into a one-line error: no control characters.
const oneLine = (s: unknown) => [...String(s)].map((c) => (c < " " || c === "\x7f" ? "?" : c)).join("").slice(0, 200);

async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime) comes after the parenthesised command name, which may hold spaces.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

async function alive(h: LockHolder): Promise<boolean> {
  return Number.isSafeInteger(h.pid) && h.pid > 0 && (await processStartTime(h.pid)) === h.startTime;
}

export interface Lock {
  release(): Promise<void>;
  /** True when the previous holder died without releasing (its journal may need recovery). */
  tookOverStale: boolean;
}

/** What a lock (or claim) file says: its holder, and a key naming exactly this file. */
interface Seen {
  holder?: LockHolder;
  /** The holder's nonce; for a file from an older oscd or a damaged one, its inode and change time. */
  key: string;
}

async function readSeen(path: string): Promise<Seen | undefined> {
  let text: string;
  let ino: number;
  let ctime: bigint;
  try {
    const fd = openSync(path, "r");
    try {
      const st = fstatSync(fd, { bigint: true });
      ino = Number(st.ino);
      ctime = st.ctimeNs;
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  let holder: LockHolder | undefined;
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.pid === "number" && typeof v.startTime === "string") holder = v as LockHolder;
  } catch {
    holder = undefined;
  }
  const key = typeof holder?.nonce === "string" && /^[0-9a-f]{32}$/.test(holder.nonce) ? holder.nonce : `f${createHash("sha256").update(`${ino}:${ctime}`).digest("hex").slice(0, 31)}`;
  return { holder, key };
}

/**
 * 16 random bytes, in hex, read from the kernel's /dev/urandom (a character device, or it is not
 * used): loading node:crypto for them cost every activation some 15 ms of CPU, a deployment or not.
 */
function nonce(): string {
  try {
    const fd = openSync("/dev/urandom", "r");
    try {
      const b = Buffer.alloc(16);
      if (fstatSync(fd).isCharacterDevice() && readSync(fd, b, 0, 16, null) === 16) return b.toString("hex");
    } finally {
      closeSync(fd);
    }
  } catch {
    // no /dev/urandom here
  }
  return randomBytes(16).toString("hex");
}

const claimName = (lockPath: string, key: string) => join(dirname(lockPath), `.${basename(lockPath)}.stale-${key}`);

/**
 * One deployment per host at a time. The lock file holds the holder's pid, its start time and
 * a nonce. It is never seen empty or torn: the content is written to a temporary file first and
 * `link(2)`ed into place, which fails if a lock exists.
 *
 * A holder killed with -9 leaves the file behind; the next start takes it over without ever
 * removing it. Taking over the stale lock with key K needs winning the claim file
 * `.lock.stale-K` (also made with `link(2)`, so exactly one process wins each key); the winner
 * checks that the lock is still K and `rename(2)`s its own file over it, so the path never
 * disappears for a third process to create. A claimant that died in the middle leaves its claim,
 * which is taken over the same way under the claimant's key. Release removes the lock only
 * while it is still the holder's own.
 */
export async function acquireLock(path: string, command: string): Promise<Lock> {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: STATE_DIR_MODE });
  const me: LockHolder = { pid: process.pid, startTime: (await processStartTime(process.pid)) ?? "", command, since: new Date().toISOString(), nonce: nonce() };
  const tmp = join(dir, `.${basename(path)}.${me.nonce}.tmp`);
  // Not flushed: the content matters only while its holder lives, and after a power loss no
  // holder does; a lock file left empty by one is taken over like any stale lock.
  const fd = openSync(tmp, "wx", 0o600);
  try {
    writeFileSync(fd, JSON.stringify(me));
  } finally {
    closeSync(fd);
  }
  const held = (tookOverStale: boolean): Lock => ({ tookOverStale, release: () => releaseOwn(path, me.nonce) });
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      if (await linkOrExists(tmp, path)) {
        await cleanUp(path, me.nonce);
        return held(false);
      }
      const seen = await readSeen(path);
      if (!seen) continue; // released in between: try again
      if (seen.holder && (await alive(seen.holder))) throw new BusyError(seen.holder);
      if (await takeOver(path, tmp, seen.key)) {
        await cleanUp(path, me.nonce);
        return held(true);
      }
    }
    throw new OscdError("lock-contended", `could not take the host lock ${path}: it kept changing hands`, { hint: "another oscd is starting and stopping in a loop on this host; stop it and try again" });
  } finally {
    rmSync(tmp, { force: true });
  }
}

async function linkOrExists(from: string, to: string): Promise<boolean> {
  try {
    linkSync(from, to);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
}

/**
 * Replaces the stale lock with key `staleKey` by ours, if we win its claim chain. Returns false
 * when the lock changed meanwhile (the caller looks again); throws BusyError when a live process
 * is taking it over.
 */
async function takeOver(path: string, tmp: string, staleKey: string): Promise<boolean> {
  let key = staleKey;
  const mine: string[] = [];
  try {
    for (let depth = 0; depth < 20; depth++) {
      const claim = claimName(path, key);
      if (await linkOrExists(tmp, claim)) {
        mine.push(claim);
        // Only the lock we judged stale may be replaced; any other means someone got there first.
        if ((await readSeen(path))?.key !== staleKey) return false;
        renameSync(tmp, path);
        return true;
      }
      const other = await readSeen(claim);
      if (!other) return false; // a winner finished and cleaned up: look at the lock again
      if (other.holder && (await alive(other.holder))) throw new BusyError(other.holder);
      key = other.key; // the claimant died mid-takeover: take over its claim
    }
    return false;
  } finally {
    for (const c of mine) rmSync(c, { force: true });
  }
}

/** Removes the lock only if it is still ours (someone may have removed and retaken it). */
async function releaseOwn(path: string, nonce: string): Promise<void> {
  const seen = await readSeen(path).catch(() => undefined);
  if (seen?.key === nonce) rmSync(path, { force: true });
}

/**
 * Holding the lock, nothing else can be taking it over: claims and temporary files of dead
 * takers are litter. A latecomer that wins a removed claim again finds the lock changed and backs off.
 */
async function cleanUp(path: string, nonce: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix) || n.includes(nonce)) continue;
    if (n.startsWith(`${prefix}stale-`)) {
      rmSync(join(dir, n), { force: true });
    } else if (n.endsWith(".tmp")) {
      const seen = await readSeen(join(dir, n)).catch(() => undefined);
      if (seen?.holder && !(await alive(seen.holder))) rmSync(join(dir, n), { force: true });
    }
  }
}
