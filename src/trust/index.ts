/**
 * The trust layer (issue 26, docs/trust.md): a signed, versioned trust root naming root keys,
 * per-channel release keys with thresholds and the cache keys machines accept; its rotation
 * walk; threshold checks of manifests; signed revocation lists; and what a machine keeps of it.
 * Activate, the agent, push deploys, bundles, publish and the server read trust through here.
 */
export * from "./schema.js";
export { countSignatures, signingBytes, names, type Count } from "./threshold.js";
export { addSignatures, signTrustRoot, signRevocations, TrustSignError } from "./sign.js";
export { verifySelfSigned, checkTrustFreshness, countRole, TrustRootError } from "./rotation.js";
export { stillValid, findRevoked, ReleaseRevokedError, RevocationsError, type ReleaseRef, type RevokedMatch } from "./revocation.js";
export { verifyRootUpdate, verifyRevocations, type RootUpdate, type VerifiedRevocations } from "./incoming.js";
export { implicitRoot } from "./implicit.js";
export { readStoredRoot, readStoredRevocations, writeStoredRoot, writeStoredRevocations, trustDir, TrustStateError } from "./store.js";
export { directorySource, urlSource, trustSource, trustLocationBeside, fetchCappedGet, isTrustDocumentName, TrustFetchError, TrustTooLargeError, type TrustSource, type CappedGet } from "./source.js";
export { MachineTrust, MAX_WALK, type TrustAnchor, type TrustUpdate, type ManifestTrust } from "./machine.js";
export { initTrust, rotateTrust, nextRevocations, DEFAULT_TRUST_VALIDITY_MS, type InitSpec, type RotateSpec, type RevokeSpec } from "./compose.js";
export { readTrustDocument, serializeTrustDocument, publishTrustDocument, writeDocumentFile, type TrustDocument, type PublishedStatus } from "./files.js";
