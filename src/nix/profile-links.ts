import { lstatSync, readdirSync, readlinkSync, symlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { symlinkAtomicSync } from "../core/atomic.js";
import { OscdError } from "../core/errors.js";
import { generationLink } from "./generation-link.js";

/**
 * setProfile's own links for a profile under Nix's profiles directory (see setProfile in
 * profile.ts): the new generation's link, then the profile's, as nix-env makes them.
 */
export function setProfileLinks(storePath: string, profile: string): void {
  const dir = dirname(profile);
  const base = basename(profile);
  const pattern = generationLink(base);
  const failed = (why: string) => new OscdError("nix-profile-failed", `setting ${profile} to ${storePath} failed: ${why}`, { hint: "check that /nix/var/nix/profiles is writable and not full" });
  try {
    // A valid store path only: the caller realised it; a link to nothing would be a broken generation.
    lstatSync(storePath);
  } catch (e) {
    throw failed(`${storePath} is not in the store (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  for (let attempt = 0; attempt < 20; attempt++) {
    let newest: { n: number; name: string } | undefined;
    try {
      for (const e of readdirSync(dir)) {
        const m = pattern.exec(e);
        if (m && (!newest || Number(m[1]) > newest.n)) newest = { n: Number(m[1]), name: e };
      }
    } catch (e) {
      throw failed(`cannot read ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    let name: string;
    if (newest && readLinkOr(join(dir, newest.name)) === storePath) name = newest.name;
    else {
      name = `${base}-${(newest?.n ?? 0) + 1}-link`;
      try {
        symlinkSync(storePath, join(dir, name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") continue; // taken meanwhile: look again
        throw failed(`cannot create ${join(dir, name)} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      }
    }
    try {
      // Relative, as nix-env links it; the directory is flushed once for both links.
      symlinkAtomicSync(name, profile);
    } catch (e) {
      throw failed(`cannot point ${profile} at ${name} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    assertProfileLeadsTo(profile, name, storePath);
    return;
  }
  throw failed("its generations kept changing while oscd added one");
}

/**
 * The profile, read back, leads through `name` to `storePath`. nix-env replaces a generation link
 * it makes (it takes no lock on the profile): one that ran at this moment and chose the same
 * number could have put its own system under this name.
 */
export function assertProfileLeadsTo(profile: string, name: string, storePath: string): void {
  const dir = dirname(profile);
  const now = readLinkOr(profile);
  if (now === name && readLinkOr(join(dir, name)) === storePath) return;
  const leads = now === undefined ? "nothing" : (readLinkOr(join(dir, now)) ?? now);
  throw new OscdError("nix-profile-failed", `setting ${profile} to ${storePath} failed: another tool changed it at the same moment (it now leads to ${leads})`, { hint: "deploy again once no other tool (nixos-rebuild, nix-env) is changing the system profile" });
}

function readLinkOr(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
