import { GuardError } from "../core/errors.js";
import { canonicalJson } from "../manifest/light.js";
import { channelPolicy, oneLine, parseRevocations, type Revocations, type Revoked, type TrustRoot } from "./schema.js";
import { countSignatures, names, signingBytes } from "./threshold.js";
import { MAX_TRUST_SIGNATURES } from "./schema.js";

/**
 * A channel's revocation list: releases (sequences), commits and toplevels no machine may
 * activate again. Signed by the channel's release threshold (the people who can release can
 * also un-release), versioned (an older list is a rollback that would un-revoke), and for one
 * channel only (a list of another channel is not mixed in).
 */
export class RevocationsError extends GuardError {}

const HINT = "revocation lists are written by `oscd trust revoke` with the channel's release keys; fetch it again, or sign a new version";

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
  if (list.channel !== channel) throw new RevocationsError("revocations-channel", `${w} is the revocation list of channel ${list.channel}, not of ${channel}`, HINT);
  const policy = channelPolicy(root, channel);
  if (!policy) throw new RevocationsError("revocations-untrusted", `${w}: trust root version ${root.version} names no release keys for channel ${channel}`, HINT);
  const c = countSignatures(signingBytes(list), list.signatures, policy.keys, policy.threshold, list.createdAt, MAX_TRUST_SIGNATURES);
  if (!c.met) throw new RevocationsError("revocations-untrusted", `${w} (version ${list.version}) has ${c.counted.length} of the ${policy.threshold} release signature(s) channel ${channel} needs (${c.counted.length > 0 ? `signed by ${names(c.counted)}` : "none valid"})`, HINT);
  if (policy.sequenceEpoch !== undefined && Date.parse(list.createdAt) < Date.parse(policy.sequenceEpoch)) {
    throw new RevocationsError("revocations-untrusted", `${w} (version ${list.version}) was created at ${list.createdAt}, before channel ${channel}'s key rotation at ${policy.sequenceEpoch}`, "sign the list again with the current release keys (`oscd trust revoke` makes a new version)");
  }
  if (have) {
    if (list.version < have.version) throw new RevocationsError("revocations-rollback", `${w} is revocation list version ${list.version}, older than version ${have.version} this machine has: an older list would un-revoke releases`, "someone serves an old revocation list (or a stale mirror); the machine keeps the one it has");
    if (list.version === have.version) {
      if (canonicalJson({ ...list, signatures: [] }) !== canonicalJson({ ...have, signatures: [] })) throw new RevocationsError("revocations-rollback", `${w}: two different revocation lists carry version ${list.version}`, HINT);
      return "same";
    }
  }
  return { list, signers: c.counted.map((k) => k.name) };
}

/** A persisted list still counts only while the trust root in force would accept it (see verifyRevocations). */
export function stillValid(root: TrustRoot, list: Revocations): boolean {
  const policy = channelPolicy(root, list.channel);
  if (!policy) return false;
  if (policy.sequenceEpoch !== undefined && Date.parse(list.createdAt) < Date.parse(policy.sequenceEpoch)) return false;
  return countSignatures(signingBytes(list), list.signatures, policy.keys, policy.threshold, list.createdAt, MAX_TRUST_SIGNATURES).met;
}

export interface ReleaseRef {
  channel?: string;
  sequence?: number;
  commit?: string;
  toplevel?: string;
}

export interface RevokedMatch {
  channel: string;
  listVersion: number;
  entry: Revoked;
  /** What matched: `sequence 7`, `commit …`, `toplevel …`. */
  what: string;
}

/**
 * The revocation entry that forbids a release, if any. Toplevels and commits are revoked
 * wherever they come from (a push deploy or a bundle carries no channel sequence); a sequence
 * only within its own channel.
 */
export function findRevoked(lists: Iterable<Revocations>, r: ReleaseRef): RevokedMatch | undefined {
  for (const list of lists) {
    for (const e of list.revoked) {
      const base = { channel: list.channel, listVersion: list.version, entry: e };
      if (e.toplevel !== undefined && e.toplevel === r.toplevel) return { ...base, what: `toplevel ${e.toplevel}` };
      if (e.commit !== undefined && e.commit === r.commit) return { ...base, what: `commit ${e.commit}` };
      if (e.sequence !== undefined && r.channel === list.channel && e.sequence === r.sequence) return { ...base, what: `release ${list.channel} #${e.sequence}` };
    }
  }
  return undefined;
}

export class ReleaseRevokedError extends GuardError {
  constructor(readonly match: RevokedMatch, subject: string) {
    super(
      "release-revoked",
      `${subject} is revoked (${match.what}, revocation list of channel ${match.channel} version ${match.listVersion}: ${match.entry.reason || "no reason given"}); no machine may activate it`,
      "deploy a release that is not revoked (publish a fixed one); `oscd trust show --revocations` lists what is revoked",
    );
  }
}
