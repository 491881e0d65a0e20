/**
 * The stage's light entry (a subset of index.ts, which exports all of it too): the system
 * profile's generations, which Nix is installed, store path and key helpers. The commands that
 * run on a machine at every start (`oscd status`, `oscd activate` with nothing to do) and the
 * light entries of the stages they use import this instead of index.ts, which loads every Nix
 * adapter (evaluation, builds, copies, narinfos, the zod schemas of Nix's JSON).
 */
export { listGenerations, currentGeneration, SYSTEM_PROFILE, type Generation } from "./profile.js";
export { findNixRemembered } from "./version-cache.js";
export { findNix, describeNix, SUPPORTED_NIX, type FoundNix, type NixFlavour, type NixVersion } from "./version.js";
export { assertStorePath, isStorePath, STORE_DIR } from "./storepath.js";
export { parsePublicKey, formatPublicKey, publicKeyOf, signDetached, signerOf, type PublicKey, type SecretKey } from "./keys.js";
export { quoteUntrusted } from "./untrusted.js";
