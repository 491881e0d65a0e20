import { mkdirSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { readlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { OscdError } from "../core/errors.js";
import { assertStorePath } from "./storepath.js";

export const GCROOTS_DIR = "/nix/var/nix/gcroots/oscd";

const ROOT_NAME = /^[A-Za-z0-9._+-]+$/;

/**
 * Makes a direct GC root: a symlink under /nix/var/nix/gcroots pointing at `storePath`.
 * It may be made before the path exists, which is the point: the root is in place before
 * realising starts, so a garbage collection between download and use cannot take it.
 * Atomic (symlink to a temporary name, then rename), so a kill leaves the old or new root.
 */
export async function addRoot(storePath: string, name: string, dir = GCROOTS_DIR): Promise<string> {
  assertStorePath(storePath);
  if (!ROOT_NAME.test(name)) throw new OscdError("gcroot-name", `invalid GC root name ${JSON.stringify(name)}`);
  const link = join(dir, name);
  // Synchronous calls: a root is taken and dropped on every deployment's path (see core/atomic.ts).
  mkdirSync(dirname(link), { recursive: true });
  const tmp = `${link}.tmp-${process.pid}-${Date.now()}`;
  symlinkSync(storePath, tmp);
  renameSync(tmp, link);
  return link;
}

export async function removeRoot(name: string, dir = GCROOTS_DIR): Promise<void> {
  rmSync(join(dir, name), { force: true });
}

export async function readRoot(name: string, dir = GCROOTS_DIR): Promise<string | undefined> {
  try {
    return await readlink(join(dir, name));
  } catch {
    return undefined;
  }
}
