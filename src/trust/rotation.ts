import { GuardError } from "../core/errors.js";
import { DEFAULT_SKEW_MS } from "../manifest/light.js";
import { MAX_TRUST_SIGNATURES, oneLine, parseTrustRoot, type Role, type TrustRoot } from "./schema.js";
import { countSignatures, names, signingBytes, type Count } from "./threshold.js";

/**
 * Root rotation (TUF 1.0.34 §5.3): version N+1 is accepted only when the root keys of N sign it
 * with N's threshold *and* its own root keys sign it with its own threshold. A machine walks
 * every version in between, one at a time, so a machine offline during three rotations gets
 * there by the same chain of signatures as one that saw each; a skipped or older version is
 * refused. Intermediate versions may have expired (what matters is the chain); the one the
 * machine ends on must not have.
 */
export class TrustRootError extends GuardError {}

const ROOT_HINT = "a trust root version needs the root threshold of the version before it and of itself: sign it with `oscd trust sign --sign-key ROOT.secret` (old and new root keys)";

export function countRole(doc: { signatures: readonly string[] }, bytes: string, role: Role, signedAt: string | undefined): Count {
  return countSignatures(bytes, doc.signatures, role.keys, role.threshold, signedAt, MAX_TRUST_SIGNATURES);
}

function describeCount(c: Count): string {
  const parts = [`${c.counted.length} of the ${c.threshold} needed (${c.counted.length > 0 ? `signed by ${names(c.counted)}` : "no valid signature by these keys"})`];
  if (c.rejected.length > 0) parts.push(`not counted: ${c.rejected.map((r) => `${r.key.name} (signed before its rejectBefore ${r.rejectBefore})`).join(", ")}`);
  return parts.join("; ");
}

/** A trust root the operator gave as the starting point (first install, `oscd trust verify`): its own root threshold must sign it. */
export function verifySelfSigned(root: TrustRoot, where = "the trust root"): Count {
  const c = countRole(root, signingBytes(root), root.root, root.createdAt);
  if (!c.met) throw new TrustRootError("trust-threshold", `${oneLine(where)} (version ${root.version}) is not signed by its own root keys: ${describeCount(c)}`, ROOT_HINT);
  return c;
}

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

/**
 * Freeze (TUF §5.3.10): the trust root a machine ends on must not have expired, checked against
 * one time the caller took at the start of its check. Expired means nobody has signed a newer
 * one in time, or someone keeps serving this one: either way the machine refuses to act on it
 * and says "freeze suspected".
 */
export function checkTrustFreshness(root: Pick<TrustRoot, "version" | "createdAt" | "expiresAt">, now: Date, skewMs = DEFAULT_SKEW_MS): void {
  const t = now.getTime();
  if (!Number.isFinite(t)) throw new GuardError("trust-clock", "this machine's clock gives no valid time, so the trust root's expiry cannot be checked", "set the clock (NTP) and try again");
  const expires = Date.parse(root.expiresAt);
  const created = Date.parse(root.createdAt);
  if (!(expires > created)) throw new GuardError("trust-expired", `trust root version ${root.version} expires (${root.expiresAt}) no later than it was created (${root.createdAt}); freeze suspected`, FREEZE_HINT);
  if (t - skewMs >= expires) {
    throw new GuardError("trust-expired", `trust root version ${root.version} expired at ${root.expiresAt} (now ${now.toISOString()}); freeze suspected: no newer trust root reached this machine`, FREEZE_HINT);
  }
}

const FREEZE_HINT = "the root key holders must sign a new version in time (`oscd trust rotate`, then publish it beside the manifests); if they did, someone is withholding it from this machine (check the mirror and the clock)";
