import { UsageError } from "../core/errors.js";
import { GitUnknownRefError } from "./errors.js";
import { checkArg, FULL_ID, git, gitFailure, type GitCallOptions, type GitInvocation } from "./run.js";

/**
 * Resolves a tag, branch (`main`, `origin/main`), full or abbreviated commit id, or any other
 * revision git understands to the full commit id. Annotated tags are peeled to their commit.
 */
export async function resolveCommit(repoDir: string, ref: string, opts: GitCallOptions = {}): Promise<string> {
  checkArg(ref, "ref");
  const inv: GitInvocation = { ...opts, kind: "read", repoDir };
  const r = await git(["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`], inv);
  const id = r.stdout.trim();
  if (r.exitCode === 0 && FULL_ID.test(id)) return id;
  if (r.exitCode === 1) throw new GitUnknownRefError(ref, repoDir, r);
  throw gitFailure(r, inv, `resolving ${JSON.stringify(ref)}`);
}

/**
 * resolveCommit, and where the repository keeps its objects (absolute common dir) and their
 * format, in one git call: archiving a commit needs all three, and each git start counts on an
 * agent's path from a commit to a running system.
 */
export async function resolveCommitAndObjects(repoDir: string, ref: string, opts: GitCallOptions = {}): Promise<{ id: string; commonDir: string; format: string }> {
  checkArg(ref, "ref");
  const inv: GitInvocation = { ...opts, kind: "read", repoDir };
  const r = await git(["rev-parse", "--path-format=absolute", "--git-common-dir", "--show-object-format", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`], inv);
  const [commonDir = "", format = "", id = ""] = r.stdout.trim().split("\n");
  if (r.exitCode === 0 && FULL_ID.test(id) && commonDir !== "" && format !== "") return { id, commonDir, format };
  if (r.exitCode === 1) throw new GitUnknownRefError(ref, repoDir, r);
  throw gitFailure(r, inv, `resolving ${JSON.stringify(ref)}`);
}

/**
 * Several full ref names resolved to commits in one git call (a polling agent resolves its
 * branches every second). A ref that is missing or does not point at a commit is absent.
 */
export async function resolveRefs(repoDir: string, refs: readonly string[], opts: GitCallOptions = {}): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const wanted = [...new Set(refs)].filter((r) => r.startsWith("refs/"));
  if (wanted.length === 0) return out;
  for (const r of wanted) {
    // One name per line of git's input: a line break inside one would shift every answer.
    if (/\s/.test(checkArg(r, "ref"))) throw new UsageError(`invalid ref ${JSON.stringify(r)}`, "a ref name has no spaces or line breaks", "git-bad-argument");
  }
  const inv: GitInvocation = { ...opts, kind: "read", repoDir };
  const r = await git(["cat-file", "--batch-check=%(objectname) %(objecttype)"], { ...inv, input: wanted.map((ref) => `${ref}^{commit}\n`).join("") });
  if (r.exitCode !== 0) throw gitFailure(r, inv, "resolving refs");
  const lines = r.stdout.split("\n");
  wanted.forEach((ref, i) => {
    const [oid, type] = (lines[i] ?? "").split(" ");
    if (type === "commit" && oid !== undefined && FULL_ID.test(oid)) out.set(ref, oid);
  });
  return out;
}

/** The commit HEAD points at. */
export async function headCommit(repoDir: string, opts: GitCallOptions = {}): Promise<string> {
  return resolveCommit(repoDir, "HEAD", opts);
}

/** The checked-out branch's short name, or undefined when HEAD is detached. */
export async function currentBranch(repoDir: string, opts: GitCallOptions = {}): Promise<string | undefined> {
  const inv: GitInvocation = { ...opts, kind: "read", repoDir };
  const r = await git(["symbolic-ref", "--quiet", "--short", "HEAD"], inv);
  if (r.exitCode === 0) return r.stdout.trim();
  if (r.exitCode === 1) return undefined;
  throw gitFailure(r, inv, "reading the current branch");
}

export interface DirtyOptions extends GitCallOptions {
  /** Count untracked (not ignored) files as changes. Default true. */
  untracked?: boolean;
}

/** True when the working tree or the index differs from HEAD. */
export async function isDirty(repoDir: string, opts: DirtyOptions = {}): Promise<boolean> {
  const inv: GitInvocation = { ...opts, kind: "read", repoDir };
  const untracked = opts.untracked ?? true;
  // --no-optional-locks: a status check must not take index.lock away from a concurrent git.
  const r = await git(
    ["--no-optional-locks", "status", "--porcelain=v1", "-z", `--untracked-files=${untracked ? "normal" : "no"}`],
    inv,
  );
  if (r.exitCode !== 0) throw gitFailure(r, inv, "git status");
  return r.stdout.length > 0;
}

/**
 * Which of `paths` differ in the working tree or the index from HEAD, untracked (not ignored)
 * ones included, as git names them (relative to the repository's root).
 */
export async function changedPaths(repoDir: string, paths: readonly string[], opts: GitCallOptions = {}): Promise<string[]> {
  const inv: GitInvocation = { ...opts, kind: "read", repoDir };
  const r = await git(["--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=normal", "--", ...paths], inv);
  if (r.exitCode !== 0) throw gitFailure(r, inv, "git status");
  const out: string[] = [];
  const entries = r.stdout.split("\0");
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as string;
    if (e.length < 4) continue;
    out.push(e.slice(3));
    // A rename or copy is followed by the path it came from.
    if (e[0] === "R" || e[0] === "C") i++;
  }
  return out;
}

/** True when `ancestor` is reachable from `descendant` (a commit is its own ancestor). */
export async function isAncestor(
  repoDir: string,
  ancestor: string,
  descendant: string,
  opts: GitCallOptions = {},
): Promise<boolean> {
  const a = await resolveCommit(repoDir, ancestor, opts);
  const d = await resolveCommit(repoDir, descendant, opts);
  const inv: GitInvocation = { ...opts, kind: "read", repoDir };
  const r = await git(["merge-base", "--is-ancestor", a, d], inv);
  if (r.exitCode === 0) return true;
  if (r.exitCode === 1) return false;
  throw gitFailure(r, inv, `checking whether ${ancestor} is an ancestor of ${descendant}`);
}

/**
 * The branch a new fleet file should name as its release branch: the remote's default
 * (`refs/remotes/<remote>/HEAD`), else the checked-out branch, else undefined.
 */
export async function defaultBranch(repoDir: string, remote = "origin", opts: GitCallOptions = {}): Promise<string | undefined> {
  checkArg(remote, "remote name");
  const inv: GitInvocation = { ...opts, kind: "read", repoDir };
  const r = await git(["symbolic-ref", "--quiet", "--short", `refs/remotes/${remote}/HEAD`], inv);
  const short = r.stdout.trim();
  if (r.exitCode === 0 && short.startsWith(`${remote}/`)) return short.slice(remote.length + 1);
  const cur = await git(["symbolic-ref", "--quiet", "--short", "HEAD"], inv);
  return cur.exitCode === 0 && cur.stdout.trim() !== "" ? cur.stdout.trim() : undefined;
}
