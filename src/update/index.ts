/** `oscd update`: move the fleet's pinned inputs, build, check, and merge or open a pull request only when all passed. */
export { update, type UpdateMode, type UpdateReport, type UpdateRequest } from "./update.js";
export { parseFlakeLock, updateFlakeLock, type PinnedInput } from "./flake-lock.js";
export { updatePins } from "./pins.js";
export { runCommandChecks, runFlakeChecks, type CheckResult } from "./checks.js";
export { gitHubFromEnv, openPullRequest, type GitHubTarget, type PullRequestRequest } from "./github.js";
export { updateMessage, type InputChange } from "./message.js";
export { BranchMovedError, GitHubApiError, GitHubTokenMissingError, NoInputsError, PinFileInvalidError, UnknownInputError, UpdateFailedError } from "./errors.js";
