import { accessSync, readlinkSync } from "node:fs";

// One system call each, made synchronously as for the small state files (core/atomic.ts): the
// promise versions load node:fs/promises (and readline behind it) and start libuv's thread
// pool, a few ms of CPU at the start of `oscd status` and `oscd activate`, for nothing.

/** True when something exists at `path` (a dangling symlink counts as missing). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    accessSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The target of a symlink, or undefined when there is none. */
export async function readLinkOrUndefined(path: string): Promise<string | undefined> {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
