import { closeSync, constants, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import { OscdError } from "./errors.js";

async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Atomic file writes for oscd's state (the engine's journal and records, deploy's target
 * state, bundles). oscd's state is root's alone: new state directories are 0700.
 */
export const STATE_DIR_MODE = 0o700;

/**
 * A temporary name next to `path` that nobody can guess, so nothing can be planted there in
 * advance (a symlink at a predictable name would redirect the write).
 */
function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomHex12()}.tmp`);
}

/**
 * 12 random bytes as hex, from a pool the kernel's generator fills 4 KiB at a time: the same
 * randomness as a randomBytes(12) per name, without a call into the crypto binding for each of
 * the dozen state files a deployment writes.
 */
let pool: Buffer | undefined;
let used = 0;
function randomHex12(): string {
  if (pool === undefined || used + 12 > pool.length) {
    pool = process.getBuiltinModule("node:crypto").randomFillSync(Buffer.allocUnsafeSlow(4096));
    used = 0;
  }
  const hex = pool.toString("hex", used, used + 12);
  // Each name's bytes are used once: zeroed so they cannot be read back from the pool.
  pool.fill(0, used, used + 12);
  used += 12;
  return hex;
}

/**
 * Writes a file so that a crash at any moment leaves the old content or the new, never a
 * mix: temporary file, fsync, rename over the target, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644, opts: WriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: STATE_DIR_MODE });
  const tmp = tempName(path);
  // O_EXCL refuses any existing name, a symlink included; O_NOFOLLOW says so twice.
  const h = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    await h.writeFile(data);
    if (opts.durable !== false) await h.sync();
  } finally {
    await h.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  if (opts.durable !== false) await fsyncDir(dir);
}

export interface WriteOptions {
  /**
   * false: atomic (a reader or a killed process sees the old content or the new) but not
   * flushed to disk, so a power loss may keep the old content. Only for a file that replaces
   * durable content whose loss is harmless (a journal step recovered the same way as the one
   * before it); every step that decides what recovery does stays durable.
   */
  durable?: boolean;
}

/*
 * oscd's state files (the engine's journal, records, channels, the agent's state) are small
 * and written on the deployment's critical path, several per deployment. Their writes and
 * reads use synchronous calls: each saves a thread-pool round trip (measured in a SimHost: a
 * durable write 0.33 ms against 0.65 ms, a non-durable one 0.09 against 0.24) and blocks the
 * event loop well under a millisecond. Large files (bundles, images) go through writeFileAtomic.
 */

/** writeFileAtomic for a small state file, with synchronous calls (see above). */
export function writeStateFileSync(path: string, data: string, mode = 0o644, opts: WriteOptions = {}): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: STATE_DIR_MODE });
  const tmp = tempName(path);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    writeFileSync(fd, data);
    if (opts.durable !== false) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  if (opts.durable !== false) fsyncDirSync(dir);
}

export async function writeJsonAtomic(path: string, value: unknown, mode = 0o644, opts: WriteOptions = {}): Promise<void> {
  writeStateFileSync(path, JSON.stringify(value, null, 2) + "\n", mode, opts);
}

/** Points a symlink at a new target atomically (a new link, then rename over the old). */
export async function symlinkAtomic(target: string, path: string): Promise<void> {
  symlinkAtomicSync(target, path);
}

/** symlinkAtomic with synchronous calls (a link is a state file's size: see above). */
export function symlinkAtomicSync(target: string, path: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: STATE_DIR_MODE });
  const tmp = tempName(path);
  symlinkSync(target, tmp);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDirSync(dir);
}

/** A small state file's JSON (synchronous read, see above), or undefined when there is none. */
export async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new OscdError("state-corrupt", `${path} is not valid JSON (${e instanceof Error ? e.message : String(e)})`, {
      hint: "oscd writes its state atomically, so this file was changed by something else; move it aside and run the command again",
    });
  }
}

export async function removeFile(path: string): Promise<void> {
  rmSync(path, { force: true });
  try {
    fsyncDirSync(dirname(path));
  } catch {
    // The directory is gone or cannot be opened: nothing left to flush.
  }
}
