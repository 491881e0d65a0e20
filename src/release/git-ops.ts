import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandFailedError } from "../core/errors.js";
import { run, stderrTail, type RunResult } from "../core/exec.js";
import { ReleaseIdentityError } from "./errors.js";

/**
 * The few git operations a release needs that the git adapters (src/git) do not offer yet:
 * commit a one-file change on top of a commit without touching the working tree, delete a
 * tag, read a file at a commit, a remote's URL, fast-forward the checkout, read trailers.
 * Same rules as src/git: argument arrays, timeouts, English messages, no inherited GIT_DIR.
 */
const TIMEOUT_MS = 30_000;

const INHERITED = ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX"];

export interface GitOpsOptions {
  env?: Record<string, string | undefined>;
}

export class ReleaseGitError extends CommandFailedError {
  constructor(r: RunResult, what: string) {
    const line = r.stderr.split("\n").map((l) => l.trim()).find((l) => /^(fatal|error): /.test(l)) ?? r.stderr.trim().split("\n").pop() ?? "";
    super("git-failed", r.command, r.exitCode, stderrTail(r.stderr), `${what} failed: ${line.replace(/^(fatal|error): /, "") || `exit status ${r.exitCode}`}`, `run it by hand to see the full output: ${r.command.join(" ")}`);
  }
}

async function git(repoDir: string, args: readonly string[], opts: GitOpsOptions & { input?: string; extraEnv?: Record<string, string> } = {}): Promise<RunResult> {
  const env: Record<string, string | undefined> = { GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" };
  for (const v of INHERITED) env[v] = undefined;
  return run("git", ["-C", repoDir, ...args], { timeoutMs: TIMEOUT_MS, env: { ...env, ...opts.env, ...opts.extraEnv }, input: opts.input, missingHint: "install git" });
}

async function gitOk(repoDir: string, args: readonly string[], what: string, opts: GitOpsOptions & { input?: string; extraEnv?: Record<string, string> } = {}): Promise<string> {
  const r = await git(repoDir, args, opts);
  if (r.exitCode !== 0) {
    if (/tell me who you are|empty ident|unable to auto-detect email/i.test(r.stderr)) throw new ReleaseIdentityError(repoDir);
    throw new ReleaseGitError(r, what);
  }
  return r.stdout;
}

/** The repository's top-level directory. */
export async function repoRoot(dir: string, opts: GitOpsOptions = {}): Promise<string> {
  return (await gitOk(dir, ["rev-parse", "--show-toplevel"], `finding the repository of ${dir}`, opts)).trim();
}

export interface FileAtCommit {
  content: string;
  mode: string;
}

/** A file's content and mode at a commit, or undefined when the commit has no such file. */
export async function readFileAt(repoDir: string, commit: string, path: string, opts: GitOpsOptions = {}): Promise<FileAtCommit | undefined> {
  const out = await gitOk(repoDir, ["ls-tree", "-z", commit, "--", path], `listing ${path} at ${commit}`, opts);
  const entry = out.split("\0").find((e) => e.endsWith(`\t${path}`));
  const m = entry === undefined ? null : /^(\d+) blob ([0-9a-f]+)\t/.exec(entry);
  if (m?.[1] === undefined || m[2] === undefined) return undefined;
  const content = await gitOk(repoDir, ["cat-file", "blob", m[2]], `reading ${path} at ${commit}`, opts);
  return { content, mode: m[1] };
}

/**
 * Creates a commit whose parent is `parent` and whose tree is the parent's with one file
 * replaced. Neither the working tree, the index nor any ref changes (a temporary index is used).
 */
export async function commitFileChange(
  repoDir: string,
  parent: string,
  file: { path: string; content: string; mode: string },
  message: string,
  opts: GitOpsOptions = {},
): Promise<string> {
  const tmp = await mkdtemp(join(tmpdir(), "oscd-release-index-"));
  try {
    const index = { GIT_INDEX_FILE: join(tmp, "index") };
    const blob = (await gitOk(repoDir, ["hash-object", "-w", "--stdin"], "storing the version file", { ...opts, input: file.content })).trim();
    await gitOk(repoDir, ["read-tree", parent], "reading the parent tree", { ...opts, extraEnv: index });
    await gitOk(repoDir, ["update-index", "--add", "--cacheinfo", `${file.mode},${blob},${file.path}`], "updating the version file", { ...opts, extraEnv: index });
    const tree = (await gitOk(repoDir, ["write-tree"], "writing the tree", { ...opts, extraEnv: index })).trim();
    return (await gitOk(repoDir, ["commit-tree", "--no-gpg-sign", tree, "-p", parent, "-F", "-"], "creating the release commit", { ...opts, input: message })).trim();
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** True when `refs/tags/<name>` exists. */
export async function tagExists(repoDir: string, name: string, opts: GitOpsOptions = {}): Promise<boolean> {
  const r = await git(repoDir, ["rev-parse", "--verify", "--quiet", `refs/tags/${name}`], opts);
  if (r.exitCode === 0) return true;
  if (r.exitCode === 1) return false;
  throw new ReleaseGitError(r, `checking tag ${name}`);
}

/** Deletes a local tag (used to undo tags of a release that was not pushed). */
export async function deleteTag(repoDir: string, name: string, opts: GitOpsOptions = {}): Promise<void> {
  await gitOk(repoDir, ["update-ref", "-d", `refs/tags/${name}`], `deleting tag ${name}`, opts);
}

/** The URL of a configured remote, or undefined when there is no such remote. */
export async function remoteUrl(repoDir: string, remote: string, opts: GitOpsOptions = {}): Promise<string | undefined> {
  const r = await git(repoDir, ["remote", "get-url", "--", remote], opts);
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** Fast-forwards the checked-out branch (index and working tree too) to `commit`. */
export async function fastForward(repoDir: string, commit: string, opts: GitOpsOptions = {}): Promise<void> {
  await gitOk(repoDir, ["merge", "--ff-only", "--quiet", "--no-edit", commit], `fast-forwarding to ${commit}`, opts);
}

/** Moves a detached HEAD (index and working tree too) to `commit`. */
export async function checkoutDetached(repoDir: string, commit: string, opts: GitOpsOptions = {}): Promise<void> {
  await gitOk(repoDir, ["checkout", "--quiet", "--detach", commit], `checking out ${commit}`, opts);
}

/** The values of one trailer on the commits in `from..to` (all of `to` without `from`). */
export async function trailerValues(
  repoDir: string,
  from: string | undefined,
  to: string,
  key: string,
  opts: GitOpsOptions & { maxCount?: number } = {},
): Promise<string[]> {
  const range = from === undefined ? to : `${from}..${to}`;
  const args = ["log", "--no-show-signature", `--format=%(trailers:key=${key},valueonly)`];
  if (opts.maxCount !== undefined) args.push(`--max-count=${opts.maxCount}`);
  const out = await gitOk(repoDir, [...args, range, "--"], "reading release trailers", opts);
  return out.split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

/**
 * The branch a new fleet file should name as the release branch: the remote's default
 * (`refs/remotes/origin/HEAD`), else the checked-out branch, else undefined.
 */
export async function defaultBranch(repoDir: string, remote = "origin", opts: GitOpsOptions = {}): Promise<string | undefined> {
  const r = await git(repoDir, ["symbolic-ref", "--quiet", "--short", `refs/remotes/${remote}/HEAD`], opts);
  if (r.exitCode === 0 && r.stdout.trim().startsWith(`${remote}/`)) return r.stdout.trim().slice(remote.length + 1);
  const cur = await git(repoDir, ["symbolic-ref", "--quiet", "--short", "HEAD"], opts);
  return cur.exitCode === 0 && cur.stdout.trim() !== "" ? cur.stdout.trim() : undefined;
}
