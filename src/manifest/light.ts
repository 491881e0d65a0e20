/**
 * The stage's light entry (a subset of index.ts): the manifest's format, canonical JSON, strict
 * JSON and signatures, without the store files, netboot and host views (which load the Nix
 * stage's realise and builds). For the light entries of trust and fleet (see src/nix/light.ts).
 */
export * from "./manifest.js";
export { parseStrictJson, StrictJsonError, quoteForMessage, wellFormed } from "./strict-json.js";
export { checkFreshness, ManifestExpiredError, DEFAULT_SKEW_MS, type Freshness, type FreshnessOptions } from "./freshness.js";
