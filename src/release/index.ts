/**
 * The release stage: semantic-version bumps from pull-request labels, release commits and
 * annotated tags, GitHub `pull_request` event payloads, and pushes that retry when the branch
 * moved meanwhile.
 */
export { LEVELS, STRATEGIES, isLevel, orderLevels, parseLevel, parseStrategy, planBump, type BumpStep, type Level, type Strategy } from "./bump.js";
export { canonicalVersion, formatVersionFile, parseVersionFile, versionFilePath, type VersionFileContent } from "./version-file.js";
export { checkLabelConfig, levelsFromLabels, releaseLabelPrefix, skipLabel, type LabelConfig, type LabelDecision } from "./labels.js";
export { eventSkipReason, parsePullRequestEvent, readPullRequestEvent, type PullRequestEvent } from "./event.js";
export { checkEventRepository, expectedRepository, githubRepositoryOf, type ExpectedRepository } from "./repository.js";
export { commitMessage, pullRequestKey, tagMessage, PULL_REQUEST_TRAILER, RELEASE_TRAILER, type PullRequestRef } from "./notes.js";
export { isRetryableRejection, pushWithRetry, type Prepared, type PushOutcome, type PushWithRetryOptions } from "./push-with-retry.js";
export { asReleaseError, ReleaseIdentityError, ReleaseInputError, ReleaseRefusedError, ReleaseRetriesExhaustedError } from "./errors.js";
export { releaseBump, releaseFromEvent, type BumpOptions, type FromEventOptions, type ReleaseCommonOptions, type ReleaseResult, type ReleasedVersion } from "./release.js";
