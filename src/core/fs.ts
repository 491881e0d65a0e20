import { access, readlink } from "node:fs/promises";

/** True when something exists at `path` (a dangling symlink counts as missing). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The target of a symlink, or undefined when there is none. */
export async function readLinkOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readlink(path);
  } catch {
    return undefined;
  }
}
