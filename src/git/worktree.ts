import { checkArg, gitOk, type GitCallOptions } from "./run.js";

/** The top-level directory of the repository `dir` is in. */
export async function repoRoot(dir: string, opts: GitCallOptions = {}): Promise<string> {
  return (await gitOk(["rev-parse", "--show-toplevel"], { ...opts, kind: "read", repoDir: dir }, "finding the repository")).trim();
}

/** Fast-forwards the checked-out branch (index and working tree too) to `commit`. */
export async function fastForward(repoDir: string, commit: string, opts: GitCallOptions = {}): Promise<void> {
  checkArg(commit, "commit");
  await gitOk(["merge", "--ff-only", "--quiet", "--no-edit", commit], { ...opts, kind: "write", repoDir }, `fast-forwarding to ${commit}`);
}

/** Moves a detached HEAD (index and working tree too) to `commit`. */
export async function checkoutDetached(repoDir: string, commit: string, opts: GitCallOptions = {}): Promise<void> {
  checkArg(commit, "commit");
  await gitOk(["checkout", "--quiet", "--detach", commit], { ...opts, kind: "write", repoDir }, `checking out ${commit}`);
}
