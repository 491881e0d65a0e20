/**
 * The signed channel manifest (DESIGN.md): its format, canonical JSON, signing and strict
 * verification. Publish writes it; `oscd activate --manifest`, the agent and push deploys read it.
 */
export * from "./manifest.js";
export { parseStrictJson, StrictJsonError, quoteForMessage, wellFormed } from "./strict-json.js";
export { checkFreshness, ManifestExpiredError, DEFAULT_SKEW_MS, type Freshness, type FreshnessOptions } from "./freshness.js";
