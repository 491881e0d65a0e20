import { checkArg, FULL_ID, git, gitFailure, type GitCallOptions, type GitInvocation } from "./run.js";
import { classifyRemoteFailure } from "./remote.js";
import { GitRemoteUnreachableError, GitUnknownRefError } from "./errors.js";

/**
 * Moves `refs/heads/<branch>` to `commit` only if it still points at `expected` (undefined: the
 * branch must not exist yet), so a branch someone moved meanwhile is never overwritten.
 * Returns false when the branch was not at `expected`.
 */
export async function moveBranch(repoDir: string, branch: string, commit: string, expected: string | undefined, opts: GitCallOptions = {}): Promise<boolean> {
  checkArg(branch, "branch");
  checkArg(commit, "commit");
  const inv: GitInvocation = { ...opts, kind: "write", repoDir };
  const old = expected ?? "0".repeat(40);
  const r = await git(["update-ref", "-m", "oscd update", `refs/heads/${branch}`, commit, old], inv);
  if (r.exitCode === 0) return true;
  if (/cannot lock ref|is at .* but expected|reference already exists/.test(r.stderr)) return false;
  throw gitFailure(r, inv, `moving ${branch} to ${commit}`);
}

/** The commit a remote's ref (default HEAD) points at (`git ls-remote`), without fetching. */
export async function remoteHead(url: string, ref = "HEAD", opts: GitCallOptions = {}): Promise<string> {
  checkArg(url, "remote URL");
  checkArg(ref, "ref");
  const inv: GitInvocation = { ...opts, kind: "network" };
  const r = await git(["ls-remote", "--", url, ref], inv);
  if (r.exitCode !== 0) {
    const f = classifyRemoteFailure(r.stderr);
    if (f.kind === "unreachable") throw new GitRemoteUnreachableError(url, r);
    throw gitFailure(r, inv, `listing ${ref} of ${url}`);
  }
  const lines = r.stdout.split("\n").filter(Boolean).map((l) => l.split("\t"));
  const exact = lines.find(([, name]) => name === ref || name === `refs/heads/${ref}` || name === `refs/tags/${ref}^{}`) ?? lines.find(([, name]) => name === `refs/tags/${ref}`);
  const id = exact?.[0];
  if (id === undefined || !FULL_ID.test(id)) throw new GitUnknownRefError(ref, url, r);
  return id;
}
