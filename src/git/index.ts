/** Thin typed adapters over the real `git` binary. */
export {
  GitBadSignatureError,
  GitCommandError,
  GitNotARepoError,
  GitPushRejectedError,
  GitRemoteUnreachableError,
  GitUnknownRefError,
  type RejectedRef,
} from "./errors.js";
export { LOCAL_TIMEOUT_MS, NETWORK_TIMEOUT_MS, type GitCallOptions } from "./run.js";
export { currentBranch, headCommit, isAncestor, isDirty, resolveCommit, type DirtyOptions } from "./refs.js";
export {
  compareReleaseTags,
  createTag,
  latestReleaseTag,
  listReleaseTags,
  parseReleaseTag,
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
export { commitInfo, log, type CommitInfo, type LogOptions } from "./history.js";
export {
  describeSignatureStatus,
  verifyCommitSignature,
  type GpgTrust,
  type SignatureTrust,
  type SshTrust,
  type VerifiedSignature,
} from "./signature.js";
