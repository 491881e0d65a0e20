import { GuardError } from "../core/errors.js";
import { quoteForMessage, wellFormed } from "../manifest/light.js";

// The trust documents' names, limits and error, apart from their zod schemas and file form
// (schema.ts, which exports all of this too), for a machine's start (trust/machine.ts).

/**
 * The two signed documents of the trust layer (docs/trust.md):
 *
 * - the trust root `oscd.trust/v1`: root keys and their threshold (they sign the next
 *   version, and stay offline); per channel the release keys that sign manifests and how many
 *   must; the cache keys machines accept for store paths; an expiry. Versions only go up, and
 *   version N+1 needs the root threshold of N and of N+1 (rotation.ts).
 * - the revocation list `oscd.revocations/v1` of one channel: releases (sequences), commits and
 *   toplevels no machine may activate again, signed by the channel's release threshold.
 *
 * Both are read as strictly as the manifest (no duplicate keys, no unknown fields) and signed
 * over their canonical JSON without `signatures`.
 */
export const TRUST_SCHEMA = "oscd.trust/v1";
export const REVOCATIONS_SCHEMA = "oscd.revocations/v1";

/** Keys per role, and signatures per document: far above any real ceremony, low enough that verifying is cheap. */
export const MAX_ROLE_KEYS = 16;
export const MAX_TRUST_SIGNATURES = 32;
export const MAX_REVOKED = 10_000;
/** The channel entry that applies to every channel the trust root does not name. */
export const ANY_CHANNEL = "*";

/**
 * What a machine does when the release it runs is revoked: `report` (say so, change nothing),
 * `newest` (move to the channel's newest release that is not revoked), `rollback` (go back to
 * the newest earlier generation that is not revoked).
 */
export const ON_REVOKED = ["report", "newest", "rollback"] as const;

export class TrustFormatError extends GuardError {
  constructor(where: string, what: string, detail: string) {
    super("trust-format", `${oneLine(where)} is not ${what}: ${detail}`, "trust roots are written by `oscd trust init|rotate`, revocation lists by `oscd trust revoke`; fetch the file again");
  }
}

export function oneLine(where: string): string {
  const control = [...where].some((c) => {
    const n = c.codePointAt(0) ?? 0;
    return n < 0x20 || n === 0x7f || n === 0x2028 || n === 0x2029;
  });
  return control || !wellFormed(where) ? quoteForMessage(where, 200) : where;
}

/** A trust root is a few KiB; anything above this is not one (endless data is cut before parsing). */
export const MAX_TRUST_BYTES = 1024 * 1024;
/** A revocation list of MAX_REVOKED entries with long reasons fits. */
export const MAX_REVOCATIONS_BYTES = 8 * 1024 * 1024;

/** The channel's policy: its own entry, else `*`, else none (no key may sign for it). */
export function channelPolicy<P>(root: { channels: Record<string, P> }, channel: string): P | undefined {
  if (Object.hasOwn(root.channels, channel)) return root.channels[channel];
  return Object.hasOwn(root.channels, ANY_CHANNEL) ? root.channels[ANY_CHANNEL] : undefined;
}
