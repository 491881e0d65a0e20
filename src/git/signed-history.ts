import { GuardError } from "../core/errors.js";
import { GitBadSignatureError } from "./errors.js";
import { resolveCommit } from "./refs.js";
import { gitOk, type GitCallOptions } from "./run.js";
import { verifyCommitSignature, type SignatureTrust, type VerifiedSignature } from "./signature.js";

/**
 * A commit between the last deployed one and the new tip that no trusted key signed (code
 * `git-unsigned-history`, exit 3): with signed history required, an unsigned commit cannot ride
 * in under a signed one.
 */
export class GitUnsignedHistoryError extends GuardError {
  constructor(
    readonly commit: string,
    readonly from: string,
    readonly to: string,
    readonly reason: string,
  ) {
    super(
      "git-unsigned-history",
      `commit ${commit.slice(0, 12)}, between the deployed ${from.slice(0, 12)} and ${to.slice(0, 12)}, is refused: ${reason}`,
      "every commit since the last deployed one must be signed by a trusted key (requireSignedHistory); remove the commit from the branch, or deploy once without requireSignedHistory if it is known good",
    );
  }
}

/**
 * The signature of `commit` by any of `trusts` (the first that verifies it). When none does, the
 * last one's error: a refusal (GitBadSignatureError), or why it could not check (gpg missing).
 */
export async function verifyByAny(repoDir: string, commit: string, trusts: readonly SignatureTrust[], opts: GitCallOptions = {}): Promise<VerifiedSignature> {
  let last: unknown = new GuardError("git-bad-signature", `commit ${commit} is refused: no signing key is trusted`);
  for (const t of trusts) {
    try {
      return await verifyCommitSignature(repoDir, commit, t, opts);
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

/**
 * Verifies every commit reachable from `to` and not from `from` (the tip included, merged
 * branches included), oldest first, with the same check as a single commit
 * (`verifyCommitSignature`, by any of `trusts`). Throws GitUnsignedHistoryError naming the first
 * that fails; returns how many were verified. No trust set is a refusal, not a pass.
 */
export async function verifySignedHistory(repoDir: string, from: string, to: string, trusts: readonly SignatureTrust[], opts: GitCallOptions = {}): Promise<number> {
  const fromId = await resolveCommit(repoDir, from, opts);
  const toId = await resolveCommit(repoDir, to, opts);
  const listed = (await gitOk(["rev-list", "--topo-order", "--reverse", `${fromId}..${toId}`, "--"], { ...opts, kind: "read", repoDir }, "listing the commits to verify"))
    .split("\n")
    .filter((l) => l !== "");
  // The tip is always verified, even when it is not ahead of `from` (an older release).
  const commits = listed.includes(toId) ? listed : [...listed, toId];
  for (const c of commits) {
    try {
      await verifyByAny(repoDir, c, trusts, opts);
    } catch (e) {
      if (e instanceof GitBadSignatureError) throw new GitUnsignedHistoryError(c, fromId, toId, e.reason);
      if (e instanceof GuardError && e.code === "git-bad-signature") throw new GitUnsignedHistoryError(c, fromId, toId, "no signing key is trusted");
      throw e;
    }
  }
  return commits.length;
}
