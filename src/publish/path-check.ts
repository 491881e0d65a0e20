import { OscdError } from "../core/errors.js";
import { narInfoFingerprint, nixBase32, signerOf, type NarInfo, type PathInfo } from "../nix/index.js";
import type { SigningKey } from "./key.js";

/** `sha256-<base64>` (what `nix path-info --json` prints) as `sha256:<base32>` (what Nix signs). */
export function narHashForSigning(h: string): string {
  if (/^sha256:[0-9a-df-np-sv-z]{52}$/.test(h)) return h;
  if (/^sha256-[A-Za-z0-9+/]{43}=$/.test(h)) return `sha256:${nixBase32(Buffer.from(h.slice(7), "base64"))}`;
  throw new OscdError("narhash-format", `unexpected NAR hash ${JSON.stringify(h.slice(0, 20))}`);
}

/** What Nix signs for a path (store path, NAR hash and size, references), from path info. */
export function pathFingerprint(info: Pick<PathInfo, "path" | "narHash" | "narSize" | "references">): string | undefined {
  try {
    return narInfoFingerprint({ storePath: info.path, narHash: narHashForSigning(info.narHash), narSize: info.narSize, references: info.references });
  } catch {
    return undefined;
  }
}

/** The same, from a narinfo file. */
export function narInfoPrint(n: NarInfo): string | undefined {
  try {
    return narInfoFingerprint({ ...n, narHash: narHashForSigning(n.narHash) });
  } catch {
    return undefined;
  }
}

/**
 * True when the cache's record of a path describes exactly the bytes built here: the same
 * NAR hash, NAR size and references (what a signature covers). Anything else is someone
 * else's NAR under the fleet path's name.
 */
export function sameAsLocal(local: PathInfo, remote: Pick<PathInfo, "path" | "narHash" | "narSize" | "references">): boolean {
  const a = pathFingerprint(local);
  return a !== undefined && a === pathFingerprint(remote);
}

/** True when the path info carries a valid signature by `key` (the check Nix makes). */
export function signedBy(info: PathInfo, key: SigningKey): boolean {
  if (!info.valid || !info.narHash) return false;
  const fp = pathFingerprint(info);
  if (fp === undefined) return false;
  return info.signatures.some((s) => signerOf([key.public], fp, s) !== undefined);
}

/** `<hash>.narinfo`: the file a binary cache keeps a path's record in. */
export function narInfoName(storePath: string): string {
  return `${storePath.slice(storePath.lastIndexOf("/") + 1, storePath.lastIndexOf("/") + 33)}.narinfo`;
}
