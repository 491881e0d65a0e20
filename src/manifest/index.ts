/**
 * The signed channel manifest (DESIGN.md): its format, canonical JSON, signing and strict
 * verification. Publish writes it; `oscd activate --manifest`, the agent and push deploys read it.
 */
export * from "./manifest.js";
export { parseStrictJson, StrictJsonError, quoteForMessage, wellFormed } from "./strict-json.js";
export { checkFreshness, ManifestExpiredError, DEFAULT_SKEW_MS, type Freshness, type FreshnessOptions } from "./freshness.js";
export { storeFilePath, sriSha256, hashFile, checkFileAgainst, readVerifiedFile, resolveInStore, fetchStoreFile, type FetchStoreFileOptions, ImageHashMismatchError, ImageFileMissingError } from "./files.js";
export { ipxeScript, netbootParams, netbootOf, NetbootNoEntryError, NetbootStaleError } from "./netboot.js";
export { hostViewBody, RELEASE_WITH_VIEWS, signHostViews, viewHost } from "./host-view.js";
