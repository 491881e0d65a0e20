import { GuardError, UsageError } from "../core/errors.js";
import { signerOf, type PublicKey } from "../nix/light.js";
import { canonicalJson } from "./canonical.js";
import { oneLine, shown } from "./quote.js";

// The manifest's names, limits, errors and signature check, apart from its zod schema and what
// reads or writes whole manifests (manifest.ts, which exports all of this too): a machine's start
// (the trust state `oscd activate` loads) needs these, and building the schema cost it more
// than the rest. Typed by shape: the Manifest type is the schema's (manifest.ts).

export const MANIFEST_SCHEMA = "oscd.manifest/v1";

/** No dots: `channels/<channel>.<sequence>.json` must never be read as another channel's file. */
export const CHANNEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** Longest channel or host name: a file name part and a DNS label. */
export const MAX_NAME_LENGTH = 63;

/** A channel name as it enters from a flag, a file or a URL; anything else is a usage error (exit 2). */
export function checkChannelName(name: string): string {
  if (typeof name !== "string" || name.length > MAX_NAME_LENGTH || !CHANNEL_NAME.test(name)) {
    throw new UsageError(`${JSON.stringify(String(name).slice(0, 80))} is not a channel name`, `a channel name has up to ${MAX_NAME_LENGTH} letters, digits, '_' and '-', starting with a letter or digit`, "bad-channel");
  }
  return name;
}

/** At most this many signatures are checked (a rotation needs two; a file with hundreds is an attack on the verifier). */
export const MAX_SIGNATURES = 8;

/**
 * `name:base64` with an ed25519 signature (64 bytes) in strict, canonical base64: standard
 * alphabet, padding, and no stray bits in the last character (Buffer.from would accept junk,
 * base64url and missing padding, so one signature could be written many ways).
 */
const SIGNATURE = /^[A-Za-z0-9._+-]{1,128}:[A-Za-z0-9+/]{86}==$/;

export function isStrictSignature(sig: string): boolean {
  if (!SIGNATURE.test(sig)) return false;
  const b64 = sig.slice(sig.indexOf(":") + 1);
  return Buffer.from(b64, "base64").toString("base64") === b64;
}

/** An image format name (`qcow2`, `iso`, `sd-card`): an attribute name and a file name part. */
export const IMAGE_FORMAT = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** SHA-256 of a file's bytes in SRI form (`sha256-` + standard base64 with padding), as Nix writes hashes. */
export const SRI_SHA256 = /^sha256-[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** A path inside a store path: relative, no `.`/`..` parts, no empty parts, no control characters; "" is the store path itself. */
export function isStoreRelativeFile(file: string): boolean {
  if (file === "") return true;
  if (file.length > 1024 || file.startsWith("/") || file.endsWith("/")) return false;
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f\u007f\\]/.test(file)) return false;
  return file.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

/** Kernel parameters go into an iPXE script line: printable ASCII only, and no `$` (iPXE expands `${…}`). */
export const NETBOOT_PARAMS = /^[\x20-\x23\x25-\x7e]{0,4096}$/;

export class ManifestFormatError extends GuardError {
  constructor(where: string, detail: string) {
    super("manifest-format", `${where} is not an oscd release manifest: ${detail}`, "a manifest is written by `oscd publish`; fetch it again, or publish again");
  }
}

export class ManifestSignatureError extends GuardError {
  constructor(where: string, detail: string) {
    super(
      "manifest-untrusted",
      `${where} is not signed by a trusted key: ${detail}`,
      "someone changed the file after it was signed, or it was signed with a key this machine does not trust; publish it again with the fleet key (oscd publish)",
    );
  }
}

export class ManifestSequenceError extends GuardError {
  constructor(message: string) {
    super("manifest-sequence", message, "a channel's sequence only grows; an older manifest is a replay or a rollback of the channel and is refused");
  }
}

/** The exact bytes signatures cover: canonical JSON of every field except `signatures`. */
export function manifestSigningBytes(m: object): string {
  const { signatures: _ignored, ...body } = m as { signatures?: unknown };
  return canonicalJson(body);
}

/**
 * Checks the manifest's signatures against the trusted keys; returns the key that signed it.
 * Refuses (exit 3) when no signature by a trusted key matches the content.
 */
export function verifyManifest<M extends { signatures: readonly string[] }>(m: M, trusted: readonly PublicKey[], where = "the manifest"): PublicKey {
  where = oneLine(where);
  if (trusted.length === 0) throw new ManifestSignatureError(where, "no trusted keys are configured to check it with");
  const sigs = m.signatures.slice(0, MAX_SIGNATURES);
  if (m.signatures.length > MAX_SIGNATURES) throw new ManifestSignatureError(where, `it carries ${m.signatures.length} signatures; at most ${MAX_SIGNATURES} are checked`);
  const bytes = manifestSigningBytes(m);
  for (const sig of sigs) {
    if (!isStrictSignature(sig)) continue;
    const k = signerOf(trusted, bytes, sig);
    if (k) return k;
  }
  const names = sigs.map((s) => s.slice(0, Math.max(0, s.indexOf(":")))).filter(Boolean);
  const trustedNames = new Set(trusted.map((k) => k.name));
  if (names.length === 0) throw new ManifestSignatureError(where, "it has no signatures");
  const known = [...new Set(names.filter((n) => trustedNames.has(n)))];
  if (known.length > 0) throw new ManifestSignatureError(where, `the signature by ${known.map(shown).join(", ")} does not match the content (edited after signing?)`);
  throw new ManifestSignatureError(where, `it is signed by ${[...new Set(names)].slice(0, MAX_SIGNATURES).map(shown).join(", ")}; trusted: ${trusted.map((k) => shown(k.name)).join(", ")}`);
}

