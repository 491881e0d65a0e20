/**
 * The stage's light entry (a subset of index.ts): what a machine holds of trust, for the
 * activation engine's start, without composing, signing, publishing or fetching trust
 * documents (see src/nix/light.ts).
 */
export { MachineTrust, type TrustAnchor, type TrustUpdate, type ManifestTrust } from "./machine.js";
