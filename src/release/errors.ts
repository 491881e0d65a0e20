import { EXIT, GuardError, OscdError, UsageError } from "../core/errors.js";
import { GitIdentityError } from "../git/index.js";

/**
 * Typed errors of the release stage. Stable codes (`release-*`); bad input and configuration
 * exit 2, refusals by a guard (dirty tree, existing tag, wrong repository) exit 3.
 */

/** Bad input or configuration (exit 2): levels, labels, event payload, version file, config. */
export class ReleaseInputError extends UsageError {
  constructor(code: string, message: string, hint?: string) {
    super(message, hint, code);
  }
}

/** A guard refused the release (exit 3). */
export class ReleaseRefusedError extends GuardError {}

/** The push kept being rejected because the branch kept moving (exit 1). */
export class ReleaseRetriesExhaustedError extends OscdError {
  constructor(
    readonly remote: string,
    readonly branch: string,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(
      "release-push-retries-exhausted",
      `${remote}/${branch} moved during each of ${attempts} push attempts; nothing was pushed`,
      {
        hint: "run the release again (it re-applies the bump on the branch's new head); serialise release jobs with a CI concurrency group",
        exitCode: EXIT.failed,
        cause,
      },
    );
  }
}

/** git cannot commit or tag because no identity is configured (exit 2). */
export class ReleaseIdentityError extends ReleaseInputError {
  constructor(repoDir: string) {
    super(
      "release-no-identity",
      `git has no committer identity in ${repoDir}`,
      'set one, e.g. git config user.name "release bot" && git config user.email bot@example.org',
    );
  }
}

/** git's typed identity error as the release's own (code `release-no-identity`); other errors as they are. */
export function asReleaseError(e: unknown, repoDir: string): unknown {
  return e instanceof GitIdentityError ? new ReleaseIdentityError(repoDir) : e;
}
