import { run, type RunResult } from "../core/exec.js";
import { UsageError } from "../core/errors.js";
import { GitCommandError, GitIdentityError, GitNotARepoError, isIdentityFailure, mainLine } from "./errors.js";

/** Default timeouts: local operations and operations that talk to a remote. */
export const LOCAL_TIMEOUT_MS = 30_000;
export const NETWORK_TIMEOUT_MS = 300_000;

export const GIT_MISSING_HINT = "install git (Debian: apt-get install git)";

/** Options every git adapter accepts. */
export interface GitCallOptions {
  /** Kill git after this many milliseconds (default 30 s locally, 300 s for fetch and push). */
  timeoutMs?: number;
  /** Extra environment, e.g. GIT_SSH_COMMAND; a value of undefined removes the variable. */
  env?: Record<string, string | undefined>;
  /**
   * Read ~/.gitconfig and /etc/gitconfig. Default: off for reads of repository content (so
   * their result depends only on the repository), on for fetch, push and tagging (credentials,
   * proxies, URL rewrites, identity). The repository's own config is always read.
   */
  globalConfig?: boolean;
}

/**
 * `read`: looks at repository content; `write`: creates objects or refs locally;
 * `network`: talks to a remote.
 */
export type GitKind = "read" | "write" | "network";

export interface GitInvocation extends GitCallOptions {
  kind: GitKind;
  /** Run as `git -C repoDir`; omitted for commands that take their own path (git init). */
  repoDir?: string;
  input?: string;
}

/** Variables an outer git (hooks, aliases) may have set that would redirect our commands. */
const INHERITED_GIT_VARS = [
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_COMMON_DIR",
  "GIT_NAMESPACE",
  "GIT_PREFIX",
];

export function gitEnv(inv: GitInvocation): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const v of INHERITED_GIT_VARS) env[v] = undefined;
  env.GIT_TERMINAL_PROMPT = "0";
  // Messages in English so failures can be classified; LC_ALL=C also silences LANGUAGE.
  env.LC_ALL = "C";
  const global = inv.globalConfig ?? inv.kind !== "read";
  if (!global) {
    env.GIT_CONFIG_GLOBAL = "/dev/null";
    env.GIT_CONFIG_NOSYSTEM = "1";
    env.GIT_CONFIG_PARAMETERS = undefined;
    env.GIT_CONFIG_COUNT = undefined;
  }
  return { ...env, ...inv.env };
}

/** Runs git; resolves with any exit code. Rejects only if git is missing or times out. */
export async function git(args: readonly string[], inv: GitInvocation): Promise<RunResult> {
  const full = inv.repoDir === undefined ? [...args] : ["-C", inv.repoDir, ...args];
  return run("git", full, {
    timeoutMs: inv.timeoutMs ?? (inv.kind === "network" ? NETWORK_TIMEOUT_MS : LOCAL_TIMEOUT_MS),
    env: gitEnv(inv),
    input: inv.input,
    missingHint: GIT_MISSING_HINT,
  });
}

const NOT_A_REPO = [/^fatal: not a git repository/m, /^fatal: cannot change to '.*'/m];

export function isNotARepo(stderr: string): boolean {
  return NOT_A_REPO.some((re) => re.test(stderr));
}

/**
 * The typed error for a failed git command: not-a-repo or no identity when that is the cause,
 * else git-failed.
 */
export function gitFailure(r: RunResult, inv: GitInvocation, what: string, hint?: string): GitCommandError | GitIdentityError {
  if (inv.repoDir !== undefined && isNotARepo(r.stderr)) return new GitNotARepoError(inv.repoDir, r);
  if (inv.repoDir !== undefined && inv.kind === "write" && isIdentityFailure(r.stderr)) return new GitIdentityError(inv.repoDir, r);
  const where = inv.repoDir === undefined ? "" : ` in ${inv.repoDir}`;
  const detail = mainLine(r.stderr) || `exit status ${r.exitCode}`;
  return new GitCommandError(
    r,
    `${what} failed${where}: ${detail}`,
    hint ?? `run it by hand to see the full output: ${r.command.join(" ")}`,
  );
}

/** Runs git and returns stdout; any non-zero exit becomes a typed error. */
export async function gitOk(args: readonly string[], inv: GitInvocation, what?: string): Promise<string> {
  const r = await git(args, inv);
  if (r.exitCode !== 0) throw gitFailure(r, inv, what ?? `git ${args[0] ?? ""}`);
  return r.stdout;
}

/** Refuses arguments git would read as options (defence in depth next to `--`). */
export function checkArg(value: string, what: string): string {
  if (value === "" || value.startsWith("-") || value.includes("\0")) {
    throw new UsageError(`invalid ${what} ${JSON.stringify(value)}`, `a ${what} must be non-empty and must not start with "-"`, "git-bad-argument");
  }
  return value;
}

/** Full commit ids: 40 hex digits (SHA-1) or 64 (SHA-256). */
export const FULL_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
