/** Publish stage: sign closures, copy them to binary caches, write the channel's signed manifest. */
export * from "../manifest/index.js";
export { loadSigningKey, trustedKeysFor, SIGNING_KEY_ENV, type SigningKey } from "./key.js";
export { preflightCache, preflightCacheReadOnly, planUpload, uploadClosures, type CacheUpload, type HostClosure, type UploadEvent, type UploadOptions } from "./caches.js";
export { signedBy, narHashForSigning, sameAsLocal, pathFingerprint, narInfoName } from "./path-check.js";
export { fileStoreDir, redactUrl } from "./store-url.js";
export { CachePathMismatchError } from "./cache-fix.js";
export { CacheWriteError } from "./cache-files.js";
export { writeChannel, planChannel, type ChannelPlan, type ChannelLocation, type ChannelWrite, type Compose, type LocationState, type LocationStatus } from "./channel.js";
export { FileChannel } from "./channel-file.js";
export { HttpChannel, ManifestStoreError } from "./channel-http.js";
export { publish, hostEntryWith, type HostExtras, type EntryChange, type PublishOptions, type PublishProgress, type PublishReport, type PublishedHost } from "./publish.js";
export { channelLocations, prepareChannel, type ChannelOptions, type PreparedChannel } from "./setup.js";
export { refreshChannel, type RefreshOptions, type RefreshReport } from "./refresh.js";
export { parseValidity, expiryFrom, needsRefresh, DEFAULT_VALIDITY_MS, MIN_VALIDITY_MS, MAX_VALIDITY_MS } from "./validity.js";
export { gcRoots, planRootsGc, namedByManifests, type RootsGcOptions, type RootsGcReport, type RootFate, type RootKind } from "./roots-gc.js";
export { approveManifest, type ApproveOptions, type ApproveResult } from "./approve.js";
