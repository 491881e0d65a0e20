/**
 * The stage's light entry (a subset of index.ts): the manifest's format, canonical JSON, strict
 * JSON and signatures, without its zod schema (parseManifest), the store files, netboot and host
 * views (which load the Nix stage's realise and builds). For the light entries of trust and
 * fleet (see src/nix/light.ts): a machine's start reads its trust state without building zod
 * schemas.
 */
export * from "./format.js";
export { canonicalJson } from "./canonical.js";
export type { HostEntry, StoreFile, ImageEntry, NetbootEntry, ManifestBody, Manifest } from "./manifest.js";
export { parseStrictJson, StrictJsonError, quoteForMessage, wellFormed } from "./strict-json.js";
export { checkFreshness, ManifestExpiredError, DEFAULT_SKEW_MS, type Freshness, type FreshnessOptions } from "./freshness.js";
