/** Thin typed adapters over the real `git` binary. */
export {
  GitBadSignatureError,
  GitCommandError,
  GitIdentityError,
  GitNotARepoError,
  GitPushRejectedError,
  GitRemoteUnreachableError,
  GitUnknownRefError,
  type RejectedRef,
} from "./errors.js";
export { LOCAL_TIMEOUT_MS, NETWORK_TIMEOUT_MS, type GitCallOptions } from "./run.js";
export { changedPaths, currentBranch, defaultBranch, headCommit, isAncestor, isDirty, resolveCommit, resolveRefs, type DirtyOptions } from "./refs.js";
export {
  compareReleaseTags,
  createTag,
  deleteTag,
  latestReleaseTag,
  listReleaseTags,
  parseReleaseTag,
  tagExists,
  type CreateTagOptions,
  type LatestOptions,
  type ReleaseTag,
} from "./tags.js";
export {
  classifyRemoteFailure,
  fetch,
  fetchAll,
  parsePushPorcelain,
  push,
  remoteUrl,
  type FetchOptions,
  type FetchOutcome,
  type FetchTarget,
  type PushOptions,
  type PushStatus,
  type PushedRef,
  type RemoteFailure,
} from "./remote.js";
export { ensureMirror, type MirrorOptions, type MirrorRemote, type MirrorResult } from "./mirror.js";
export { archiveCommit } from "./archive.js";
export { commitInfo, log, trailerValues, type CommitInfo, type LogOptions, type TrailerOptions } from "./history.js";
export { commitFileChange, readFileAt, type FileAtCommit } from "./commit.js";
export { checkoutDetached, fastForward, repoRoot } from "./worktree.js";
export { moveBranch, remoteHead } from "./branch-ref.js";
export {
  describeSignatureStatus,
  verifyCommitSignature,
  type GpgTrust,
  type SignatureTrust,
  type SshTrust,
  type VerifiedSignature,
} from "./signature.js";
export { GitUnsignedHistoryError, verifyByAny, verifySignedHistory } from "./signed-history.js";
export { signatureTrustOf, type SigningKeys } from "./trust.js";
