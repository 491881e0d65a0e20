import { canonicalJson } from "../manifest/light.js";
import { channelPolicy, MAX_TRUST_SIGNATURES, oneLine } from "./format.js";
import { RevocationsError, REVOCATIONS_HINT } from "./revocation.js";
import { countRole, describeCount, ROOT_HINT, TrustRootError } from "./rotation.js";
import { parseRevocations, parseTrustRoot, type Revocations, type TrustRoot } from "./schema.js";
import { countSignatures, names, signingBytes, type Count } from "./threshold.js";

export { parseTrustRoot } from "./schema.js";

// Trust documents as they arrive (text from a source or a file): parsed with their zod schemas,
// then checked against the trust in force (rotation.ts, revocation.ts). Apart from those two so
// that a machine's start, which holds its trust state but takes nothing new, builds no schema.

export interface RootUpdate {
  root: TrustRoot;
  /** Signatures of the previous version's root keys, and of the new version's. */
  byPrevious: Count;
  byItself: Count;
}

/**
 * Checks that `text` is version `current.version + 1`, signed by the thresholds of both. An
 * older or equal version is a rollback (`trust-rollback`), a higher one a skip
 * (`trust-version-skip`): the machine must walk through each version.
 */
export function verifyRootUpdate(current: TrustRoot, text: string, where: string): RootUpdate {
  const next = parseTrustRoot(text, where);
  const w = oneLine(where);
  if (next.version <= current.version) {
    throw new TrustRootError("trust-rollback", `${w} is trust root version ${next.version}, but this machine already trusts version ${current.version}: a trust root never goes back`, "someone serves an old trust root (a rollback attack, or a stale mirror); the machine keeps the version it has");
  }
  if (next.version !== current.version + 1) {
    throw new TrustRootError("trust-version-skip", `${w} is trust root version ${next.version}, but the next after ${current.version} is ${current.version + 1}: versions are walked one at a time`, "publish every version (trust/<N>.root.json) so machines can walk the chain");
  }
  const bytes = signingBytes(next);
  // The signing time is the new version's own claim; a previous key with a cut-off after it does not count.
  const byPrevious = countRole(next, bytes, current.root, next.createdAt);
  if (!byPrevious.met) throw new TrustRootError("trust-threshold", `${w} (version ${next.version}) lacks the root threshold of version ${current.version}: ${describeCount(byPrevious)}`, ROOT_HINT);
  const byItself = countRole(next, bytes, next.root, next.createdAt);
  if (!byItself.met) throw new TrustRootError("trust-threshold", `${w} (version ${next.version}) lacks its own root threshold: ${describeCount(byItself)}`, ROOT_HINT);
  return { root: next, byPrevious, byItself };
}

export interface VerifiedRevocations {
  list: Revocations;
  signers: string[];
}

/**
 * Checks a revocation list for `channel` against the trust root: the channel's release
 * threshold signed it, it is not from before the channel's sequence epoch (a list signed by a
 * leaked key before the rotation must not hold the channel), and its version is not below the
 * one the machine has (`have`).
 */
export function verifyRevocations(root: TrustRoot, text: string, channel: string, where: string, have?: Revocations): VerifiedRevocations | "same" {
  const list = parseRevocations(text, where);
  const w = oneLine(where);
  if (list.channel !== channel) throw new RevocationsError("revocations-channel", `${w} is the revocation list of channel ${list.channel}, not of ${channel}`, REVOCATIONS_HINT);
  const policy = channelPolicy(root, channel);
  if (!policy) throw new RevocationsError("revocations-untrusted", `${w}: trust root version ${root.version} names no release keys for channel ${channel}`, REVOCATIONS_HINT);
  const c = countSignatures(signingBytes(list), list.signatures, policy.keys, policy.threshold, list.createdAt, MAX_TRUST_SIGNATURES);
  if (!c.met) throw new RevocationsError("revocations-untrusted", `${w} (version ${list.version}) has ${c.counted.length} of the ${policy.threshold} release signature(s) channel ${channel} needs (${c.counted.length > 0 ? `signed by ${names(c.counted)}` : "none valid"})`, REVOCATIONS_HINT);
  if (policy.sequenceEpoch !== undefined && Date.parse(list.createdAt) < Date.parse(policy.sequenceEpoch)) {
    throw new RevocationsError("revocations-untrusted", `${w} (version ${list.version}) was created at ${list.createdAt}, before channel ${channel}'s key rotation at ${policy.sequenceEpoch}`, "sign the list again with the current release keys (`oscd trust revoke` makes a new version)");
  }
  if (have) {
    if (list.version < have.version) throw new RevocationsError("revocations-rollback", `${w} is revocation list version ${list.version}, older than version ${have.version} this machine has: an older list would un-revoke releases`, "someone serves an old revocation list (or a stale mirror); the machine keeps the one it has");
    if (list.version === have.version) {
      if (canonicalJson({ ...list, signatures: [] }) !== canonicalJson({ ...have, signatures: [] })) throw new RevocationsError("revocations-rollback", `${w}: two different revocation lists carry version ${list.version}`, REVOCATIONS_HINT);
      return "same";
    }
  }
  return { list, signers: c.counted.map((k) => k.name) };
}

