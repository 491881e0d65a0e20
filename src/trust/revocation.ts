import { GuardError } from "../core/errors.js";
import { channelPolicy, MAX_TRUST_SIGNATURES } from "./format.js";
import type { Revocations, Revoked, TrustRoot } from "./schema.js";
import { countSignatures, signingBytes } from "./threshold.js";

/**
 * A channel's revocation list: releases (sequences), commits and toplevels no machine may
 * activate again. Signed by the channel's release threshold (the people who can release can
 * also un-release), versioned (an older list is a rollback that would un-revoke), and for one
 * channel only (a list of another channel is not mixed in).
 */
export class RevocationsError extends GuardError {}

export const REVOCATIONS_HINT = "revocation lists are written by `oscd trust revoke` with the channel's release keys; fetch it again, or sign a new version";

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
