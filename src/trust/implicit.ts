import { parsePublicKey } from "../nix/light.js";
import { ANY_CHANNEL, TRUST_SCHEMA } from "./format.js";
import type { TrustRoot } from "./schema.js";

/**
 * Migration: a machine that has never seen a trust root trusts what it trusted before, its
 * `trustedPublicKeys`, and this is that trust written as a root: version 0, every key a root key,
 * a release key of every channel and a cache key, any one of them enough. So a fleet with one
 * key keeps working unchanged, and its first real trust root (version 1) is accepted when one
 * of those keys signs it (as well as its own root keys): the walk starts here.
 */
export function implicitRoot(trustedPublicKeys: readonly string[]): TrustRoot {
  const keys = [...new Set(trustedPublicKeys.map((k) => k.trim()))].filter((k) => {
    try {
      parsePublicKey(k);
      return true;
    } catch {
      return false;
    }
  });
  const role = { keys: keys.map((key) => ({ key })), threshold: 1 };
  return {
    schema: TRUST_SCHEMA,
    version: 0,
    createdAt: new Date(0).toISOString(),
    // Never checked: an implicit root has no expiry (the trust it stands for never had one).
    expiresAt: new Date(8.64e15).toISOString(),
    root: role,
    channels: { [ANY_CHANNEL]: role },
    cacheKeys: keys,
    signatures: [],
  };
}
