import { lstatSync, mkdirSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";

/**
 * The running user's own cache folder for oscd: `$XDG_CACHE_HOME/oscd`, else `~/.cache/oscd`,
 * made (0700) when missing. What oscd keeps there only saves time at start (Node's compiled
 * code, which Nix answered `nix --version`); nothing in it is needed, and it may be deleted.
 *
 * Compiled code is run and a Nix version is believed, so the folder is used only when nobody
 * else can write to it: it and every folder above it belong to this user or to root, and none
 * is writable by group or others (no /tmp, no world-writable home, no home of another user
 * kept by sudo). Anything else, an error included, is undefined: oscd then does without.
 */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const uid = process.geteuid?.();
    if (uid === undefined) return undefined;
    const xdg = env.XDG_CACHE_HOME;
    const base = xdg && isAbsolute(xdg) ? xdg : env.HOME && isAbsolute(env.HOME) ? join(env.HOME, ".cache") : undefined;
    if (!base) return undefined;
    const dir = join(base, "oscd");
    // Nothing is made where it could not be used: the folder that exists must pass first.
    let existing = dir;
    while (!exists(existing)) existing = dirname(existing);
    if (!ownedChain(realpathSync(existing), uid)) return undefined;
    if (existing !== dir) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const real = realpathSync(dir);
    return ownedChain(real, uid) ? real : undefined;
  } catch {
    return undefined;
  }
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Every folder from `dir` up to / is the user's or root's, and not writable by group or others. */
function ownedChain(dir: string, uid: number): boolean {
  for (let d = dir; ; d = dirname(d)) {
    const st = lstatSync(d);
    if (!st.isDirectory() || (st.uid !== uid && st.uid !== 0) || (st.mode & 0o022) !== 0) return false;
    if (dirname(d) === d) return true;
  }
}
