import { OscdError } from "../core/errors.js";
import { narHashAsSigned, narInfoFingerprint, pathInfoFingerprint, trustedSigner, type NarInfo, type PathInfo } from "../nix/index.js";
import type { SigningKey } from "./key.js";

/** A SHA-256 NAR hash in any form Nix prints (`sha256-<base64>`, `sha256:<nix32>`, …) as `sha256:<nix32>` (what Nix signs). */
export function narHashForSigning(h: string): string {
  const signed = narHashAsSigned(h);
  if (signed === undefined) throw new OscdError("narhash-format", `unexpected NAR hash ${JSON.stringify(h.slice(0, 20))}`);
  return signed;
}

/** What Nix signs for a path (store path, NAR hash and size, references), from path info. */
export function pathFingerprint(info: Pick<PathInfo, "path" | "narHash" | "narSize" | "references">): string | undefined {
  return pathInfoFingerprint(info);
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
  return trustedSigner(info, [key.public]) !== undefined;
}

/** `<hash>.narinfo`: the file a binary cache keeps a path's record in. */
export function narInfoName(storePath: string): string {
  return `${storePath.slice(storePath.lastIndexOf("/") + 1, storePath.lastIndexOf("/") + 33)}.narinfo`;
}
