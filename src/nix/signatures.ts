import { parseNixHash, toNix32 } from "./hash.js";
import { signerOf, type PublicKey } from "./keys.js";
import { narInfoFingerprint } from "./narinfo.js";
import type { PathInfo } from "./pathinfo-json.js";

/**
 * A SHA-256 NAR hash in any form Nix prints (`sha256-<base64>` in JSON, `sha256:<nix32>` in
 * narinfo files) as `sha256:<nix32>`, the form Nix signs; undefined for anything else.
 */
export function narHashAsSigned(h: string): string | undefined {
  const parsed = parseNixHash(h);
  return parsed?.algorithm === "sha256" ? toNix32(parsed) : undefined;
}

/** What Nix signs for a path (store path, NAR hash and size, references), from path info. */
export function pathInfoFingerprint(info: Pick<PathInfo, "path" | "narHash" | "narSize" | "references">): string | undefined {
  const narHash = narHashAsSigned(info.narHash);
  if (narHash === undefined) return undefined;
  try {
    return narInfoFingerprint({ storePath: info.path, narHash, narSize: info.narSize, references: info.references });
  } catch {
    return undefined;
  }
}

/** The key among `keys` whose valid signature the path info carries (the check Nix makes), if any. */
export function trustedSigner(info: PathInfo, keys: readonly PublicKey[]): PublicKey | undefined {
  if (!info.valid) return undefined;
  const fp = pathInfoFingerprint(info);
  if (fp === undefined) return undefined;
  for (const s of info.signatures) {
    const k = signerOf(keys, fp, s);
    if (k) return k;
  }
  return undefined;
}
