import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { userCacheDir } from "../core/user-cache.js";
import type { NixCallOptions } from "./command.js";
import { findNix, locateNix, parseNixVersion, type FoundNix } from "./version.js";

const FILE = "nix-version.json";
/** Binaries remembered: a machine's own Nix and a few others (a newer one on PATH, a container's). */
const KEEP = 8;

/**
 * One Nix binary: the file `nix` resolves to, with its inode, size, modification and change
 * times. Replacing or editing the file (an upgrade, a reinstall) changes the change time, which
 * no one can set back; a store path's content never changes.
 */
function identity(realPath: string): string | undefined {
  try {
    const st = statSync(realPath, { bigint: true });
    return `${realPath}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}

function readEntries(file: string): Map<string, string> {
  try {
    const v: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (typeof v !== "object" || v === null || Array.isArray(v)) return new Map();
    return new Map(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string"));
  } catch {
    return new Map();
  }
}

/**
 * The Nix `nix` on PATH resolves to, as `findNix` answers, but remembered across runs in the
 * user's own cache folder (core/user-cache.ts) so that `oscd status` runs no `nix --version`
 * while that binary stays the same file. For what is shown (`oscd status`, `oscd --version
 * --verbose`): the commands that drive Nix ask it themselves (findNix). Without a safe cache
 * folder, or when anything about the cache fails, it asks Nix as findNix does.
 */
export async function findNixRemembered(opts: NixCallOptions = {}, dir: string | undefined = userCacheDir()): Promise<FoundNix> {
  const where = locateNix(opts);
  const key = where.realPath ? identity(where.realPath) : undefined;
  if (dir === undefined || key === undefined) return findNix(opts);
  const file = join(dir, FILE);
  const known = readEntries(file);
  const raw = known.get(key);
  if (raw !== undefined) {
    try {
      return { version: parseNixVersion(raw), ...where };
    } catch {
      // not a version line (an older format, a damaged file): ask Nix
    }
  }
  const found = await findNix(opts);
  // Asked while the binary was replaced: remembered only if it is still the file that answered.
  if (identity(where.realPath as string) !== key) return found;
  known.delete(key);
  known.set(key, found.version.raw);
  const kept = [...known].slice(-KEEP);
  try {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(kept)) + "\n", { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // a cache that cannot be written is asked again next time
  }
  return found;
}
