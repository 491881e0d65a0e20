import { ToolMissingError, UsageError, type OscdError, isOscdError } from "../core/errors.js";
import type { RunResult } from "../core/exec.js";
import {
  GitNotARepoError,
  GitPushRejectedError,
  GitRemoteUnreachableError,
  GitUnknownRefError,
  type RejectedRef,
} from "./errors.js";
import { checkArg, git, gitFailure, isNotARepo, type GitCallOptions, type GitInvocation } from "./run.js";

const UNREACHABLE = [
  /does not appear to be a git repository/,
  /Could not read from remote repository/,
  /unable to access '/,
  /Could not resolve host/,
  /Connection (refused|timed out|reset|closed)/,
  /No route to host/,
  /Network is unreachable/,
  /repository '.*' not found/,
  /Host key verification failed/,
  /Permission denied/,
  /Authentication failed/,
  /unable to connect/,
  /the remote end hung up unexpectedly/,
  /transport '.*' not allowed/,
];

export type RemoteFailure = { kind: "unreachable" } | { kind: "unknown-ref"; ref: string } | { kind: "other" };

/** Classifies the stderr of a failed fetch or push. */
export function classifyRemoteFailure(stderr: string): RemoteFailure {
  const ref = /couldn't find remote ref (\S+)/.exec(stderr);
  if (ref?.[1] !== undefined) return { kind: "unknown-ref", ref: ref[1] };
  if (UNREACHABLE.some((re) => re.test(stderr))) return { kind: "unreachable" };
  return { kind: "other" };
}

function remoteFailure(r: RunResult, inv: GitInvocation & { repoDir: string }, remote: string, what: string): OscdError {
  if (isNotARepo(r.stderr) && !r.stderr.includes("does not appear")) return new GitNotARepoError(inv.repoDir, r);
  const c = classifyRemoteFailure(r.stderr);
  if (c.kind === "unreachable") return new GitRemoteUnreachableError(remote, r);
  if (c.kind === "unknown-ref") return new GitUnknownRefError(c.ref, `remote ${remote}`, r);
  return gitFailure(r, inv, what);
}

export interface FetchOptions extends GitCallOptions {
  /** Refspecs to fetch; default: the remote's configured ones (a URL without refspecs fills FETCH_HEAD only). */
  refspecs?: readonly string[];
  /** true: fetch all tags; false: no tags; default: tags pointing into fetched history. */
  tags?: boolean;
  /** Delete remote-tracking refs that no longer exist on the remote. */
  prune?: boolean;
}

/** Fetches from a configured remote name or a URL or path. */
export async function fetch(repoDir: string, remote: string, opts: FetchOptions = {}): Promise<void> {
  checkArg(remote, "remote");
  const inv = { ...opts, kind: "network" as const, repoDir };
  const args = ["fetch", "--no-progress"];
  if (opts.tags === true) args.push("--tags");
  if (opts.tags === false) args.push("--no-tags");
  if (opts.prune) args.push("--prune");
  args.push("--", remote, ...(opts.refspecs ?? []));
  const r = await git(args, inv);
  if (r.exitCode !== 0) throw remoteFailure(r, inv, remote, `fetching from ${remote}`);
}

export interface FetchTarget {
  /** A configured remote name, or a URL or path. */
  remote: string;
  refspecs?: readonly string[];
}

export type FetchOutcome = { remote: string; ok: true } | { remote: string; ok: false; error: OscdError };

/**
 * Fetches each remote in turn (one fetch at a time: they share the repository's ref locks)
 * and reports each one's outcome, so one unreachable remote does not hide the others.
 * Throws only for failures that are not about a remote: git missing, not a repository.
 */
export async function fetchAll(
  repoDir: string,
  remotes: readonly (string | FetchTarget)[],
  opts: Omit<FetchOptions, "refspecs"> = {},
): Promise<FetchOutcome[]> {
  const outcomes: FetchOutcome[] = [];
  for (const target of remotes) {
    const t: FetchTarget = typeof target === "string" ? { remote: target } : target;
    try {
      await fetch(repoDir, t.remote, { ...opts, refspecs: t.refspecs });
      outcomes.push({ remote: t.remote, ok: true });
    } catch (e) {
      if (e instanceof ToolMissingError || e instanceof GitNotARepoError || !isOscdError(e)) throw e;
      outcomes.push({ remote: t.remote, ok: false, error: e });
    }
  }
  return outcomes;
}

export type PushStatus = "fast-forward" | "forced" | "deleted" | "new" | "up-to-date" | "rejected";

export interface PushedRef {
  /** `src:dst` as git reports it. */
  ref: string;
  status: PushStatus;
  /** git's summary, e.g. `[new tag]`, `abc..def`, `[rejected] (non-fast-forward)`. */
  summary: string;
}

const FLAGS: Record<string, PushStatus> = {
  " ": "fast-forward",
  "+": "forced",
  "-": "deleted",
  "*": "new",
  "=": "up-to-date",
  "!": "rejected",
};

/** Parses `git push --porcelain` stdout: `<flag>\t<src:dst>\t<summary>` per ref. */
export function parsePushPorcelain(stdout: string): PushedRef[] {
  const refs: PushedRef[] = [];
  for (const line of stdout.split("\n")) {
    const m = /^(.)\t([^\t]+)\t(.*)$/.exec(line);
    const status = m?.[1] === undefined ? undefined : FLAGS[m[1]];
    if (m && status && m[2] !== undefined && m[3] !== undefined) refs.push({ ref: m[2], status, summary: m[3] });
  }
  return refs;
}

function rejectReason(summary: string): string {
  const m = /\(([^)]*)\)\s*$/.exec(summary);
  return m?.[1] ?? summary;
}

export interface PushOptions extends GitCallOptions {
  /** All refs update or none (`git push --atomic`). */
  atomic?: boolean;
}

/** Pushes refspecs (e.g. `refs/tags/v1.2.0`, `HEAD:refs/heads/main`) to a remote name or URL. */
export async function push(
  repoDir: string,
  remote: string,
  refspecs: readonly string[],
  opts: PushOptions = {},
): Promise<PushedRef[]> {
  checkArg(remote, "remote");
  if (refspecs.length === 0) throw new UsageError("push needs at least one refspec", "name what to push, e.g. refs/tags/v1.2.0", "git-bad-argument");
  const inv = { ...opts, kind: "network" as const, repoDir };
  const args = ["push", "--porcelain", "--no-progress"];
  if (opts.atomic) args.push("--atomic");
  args.push("--", remote, ...refspecs);
  const r = await git(args, inv);
  const refs = parsePushPorcelain(r.stdout);
  const rejected: RejectedRef[] = refs
    .filter((x) => x.status === "rejected")
    .map((x) => ({ ref: x.ref, reason: rejectReason(x.summary) }));
  if (rejected.length > 0) throw new GitPushRejectedError(remote, rejected, r);
  if (r.exitCode !== 0) throw remoteFailure(r, inv, remote, `pushing to ${remote}`);
  return refs;
}

/**
 * The URL of a configured remote, or undefined when there is no such remote. The user's git
 * configuration is read (URL rewrites such as `insteadOf` apply), as fetch and push read it.
 */
export async function remoteUrl(repoDir: string, remote: string, opts: GitCallOptions = {}): Promise<string | undefined> {
  checkArg(remote, "remote name");
  const r = await git(["remote", "get-url", "--", remote], { globalConfig: true, ...opts, kind: "read", repoDir });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}
