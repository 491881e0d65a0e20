import { CommandFailedError, GuardError, UsageError } from "../core/errors.js";
import { stderrTail, type RunResult } from "../core/exec.js";

/**
 * Typed errors of the git adapters. Each has a stable `code`; the ones raised after running
 * git carry the command and the tail of its stderr (CommandFailedError).
 */

/**
 * The line of git's stderr that says what went wrong, without its `fatal: ` / `error: ` prefix:
 * the first fatal or error line (later ones are usually advice), else the last line.
 */
export function mainLine(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("hint:"));
  const main = lines.find((l) => /^(fatal|error): /.test(l)) ?? lines[lines.length - 1] ?? "";
  return main.replace(/^(fatal|error|warning): /, "");
}

/** git ran and failed in a way no more specific error describes (code `git-failed`). */
export class GitCommandError extends CommandFailedError {
  constructor(r: RunResult, message: string, hint?: string, code = "git-failed") {
    super(code, r.command, r.exitCode, stderrTail(r.stderr), message, hint);
  }
}

/** The directory is missing or is not a git repository (code `git-not-a-repo`). */
export class GitNotARepoError extends GitCommandError {
  constructor(readonly repoDir: string, r: RunResult) {
    super(
      r,
      `${repoDir} is not a git repository (${mainLine(r.stderr) || "git could not open it"})`,
      "check the path; a fleet repository is a git clone, a pull-agent mirror is created by ensureMirror",
      "git-not-a-repo",
    );
  }
}

/** A ref (tag, branch, commit) does not exist or does not name a commit (code `git-unknown-ref`). */
export class GitUnknownRefError extends GitCommandError {
  constructor(readonly ref: string, where: string, r: RunResult) {
    super(
      r,
      `${JSON.stringify(ref)} does not name a commit in ${where}`,
      "check the spelling; fetch first if the ref only exists on a remote (branches of a remote are `remote/branch`)",
      "git-unknown-ref",
    );
  }
}

/** A remote could not be reached or read (code `git-remote-unreachable`). */
export class GitRemoteUnreachableError extends GitCommandError {
  constructor(readonly remote: string, r: RunResult) {
    super(
      r,
      `cannot read from remote ${remote}: ${mainLine(r.stderr) || `git exited with ${r.exitCode}`}`,
      "check the remote URL or path, the network and the credentials (for SSH, pass GIT_SSH_COMMAND in env)",
      "git-remote-unreachable",
    );
  }
}

export interface RejectedRef {
  ref: string;
  reason: string;
}

/** The remote refused some of the pushed refs (code `git-push-rejected`). */
export class GitPushRejectedError extends GitCommandError {
  constructor(readonly remote: string, readonly rejected: readonly RejectedRef[], r: RunResult) {
    const list = rejected.map((x) => `${x.ref} (${x.reason})`).join(", ");
    const nonFf = rejected.some((x) => /non-fast-forward|fetch first/.test(x.reason));
    super(
      r,
      `push to ${remote} was rejected: ${list}`,
      nonFf
        ? "the remote has commits you do not have: fetch, integrate them, and push again"
        : "the remote refused the update; check its hooks, branch protection and permissions",
      "git-push-rejected",
    );
  }
}

/**
 * A commit is unsigned, signed by a key that is not trusted, or its signature is bad
 * (code `git-bad-signature`, exit 3: a guard refusal).
 */
export class GitBadSignatureError extends GuardError {
  constructor(
    readonly commit: string,
    readonly reason: string,
    readonly command: readonly string[],
    readonly stderrTail: string,
  ) {
    super(
      "git-bad-signature",
      `commit ${commit} is refused: ${reason}`,
      "only commits signed by a trusted key are deployed; sign the commit with a trusted key or add the signer's public key to the trusted set",
    );
  }
}

/**
 * git cannot commit or tag because it has no identity to record (code `git-no-identity`,
 * exit 2: configuration). Callers that know a better hint (release) map it to their own error.
 */
export class GitIdentityError extends UsageError {
  readonly command: readonly string[];
  readonly stderrTail: string;

  constructor(readonly repoDir: string, r: RunResult) {
    super(
      `git has no committer identity in ${repoDir}`,
      'set one, e.g. git config user.name "release bot" && git config user.email bot@example.org',
      "git-no-identity",
    );
    this.command = r.command;
    this.stderrTail = stderrTail(r.stderr);
  }
}

/** git's words for "tell me who you are": no user.name/user.email it may use. */
export function isIdentityFailure(stderr: string): boolean {
  return /tell me who you are|empty ident|unable to auto-detect email/i.test(stderr);
}
