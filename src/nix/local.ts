/**
 * The stage's light entry: what reading this machine's own state needs (the system profile's
 * generations, which Nix is installed), without the rest of the stage. `oscd status` and the
 * activation engine's start import this, so they do not load every Nix adapter (evaluation,
 * copies, narinfos, keys and the zod schemas of Nix's JSON) on each run. Everything here is
 * also exported by index.ts.
 */
export { listGenerations, currentGeneration, SYSTEM_PROFILE, type Generation } from "./profile.js";
export { findNix, describeNix, SUPPORTED_NIX, type FoundNix, type NixFlavour, type NixVersion } from "./version.js";
export { assertStorePath } from "./storepath.js";
