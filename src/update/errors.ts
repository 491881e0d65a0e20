import { OscdError, UsageError } from "../core/errors.js";
export { PinFileInvalidError } from "../builder/index.js";

/** `--input NAME` names no input of the flake lock or pin file (exit 2). */
export class UnknownInputError extends UsageError {
  constructor(name: string, known: readonly string[]) {
    super(`--input ${JSON.stringify(name)} is not an input of the fleet`, known.length > 0 ? `inputs are: ${known.join(", ")}` : "the fleet pins no inputs", "update-unknown-input");
  }
}


/** The fleet pins nothing oscd can update: no flake.lock and no pin file (exit 2). */
export class NoInputsError extends UsageError {
  constructor(file: string) {
    super(`the fleet has no pinned inputs (no ${file})`, "a flake fleet needs flake.lock; a classic fleet a pin file ([update] pinFile in oscd.toml)", "update-no-inputs");
  }
}

/** A host's build or a check failed after the update: nothing merged (exit 1). Names every failure. */
export class UpdateFailedError extends OscdError {
  constructor(readonly failures: readonly string[], branch: string) {
    super("update-failed", `the update on ${branch} was not merged: ${failures.join("; ")}`, {
      hint: `inspect the branch ${branch}; fix the failing host or check, or pin the input back`,
    });
  }
}

/** The release branch moved while the update was built: not merged, never forced (exit 3). */
export class BranchMovedError extends OscdError {
  constructor(branch: string) {
    super("update-branch-moved", `${branch} moved while the update was built and checked; nothing was merged`, {
      exitCode: 3,
      hint: "run oscd update again on the new head",
    });
  }
}

/** GitHub mode without a token in the environment (exit 2). */
export class GitHubTokenMissingError extends UsageError {
  constructor() {
    super("--github needs a token in GITHUB_TOKEN (or OSCD_GITHUB_TOKEN)", "in a workflow: env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}", "update-github-no-token");
  }
}

/** The GitHub API refused or failed a request; the message has the status, never the token. */
export class GitHubApiError extends OscdError {
  constructor(what: string, status: number, detail: string) {
    super("update-github-failed", `GitHub API: ${what}${status ? ` answered ${status}` : ""}${detail ? `: ${detail}` : ""}`, {
      hint: "check that the token may write pull requests and labels of the repository (permissions: pull-requests: write, contents: write)",
    });
  }
}
