import { GuardError } from "../core/errors.js";
import { DEFAULT_SKEW_MS } from "../manifest/light.js";
import { MAX_TRUST_SIGNATURES, oneLine } from "./format.js";
import type { Role, TrustRoot } from "./schema.js";
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

export const ROOT_HINT = "a trust root version needs the root threshold of the version before it and of itself: sign it with `oscd trust sign --sign-key ROOT.secret` (old and new root keys)";

export function countRole(doc: { signatures: readonly string[] }, bytes: string, role: Role, signedAt: string | undefined): Count {
  return countSignatures(bytes, doc.signatures, role.keys, role.threshold, signedAt, MAX_TRUST_SIGNATURES);
}

export function describeCount(c: Count): string {
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
