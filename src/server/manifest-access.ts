/** What the server uses of the manifest module: checking, never signing. */
export { checkFreshness, checkSequence, DEFAULT_SKEW_MS, parseManifest, verifyManifest, type Manifest } from "../manifest/index.js";
import type { PublicKey } from "../nix/index.js";

export function formatPublicKeyName(k: PublicKey): string {
  return k.name;
}
