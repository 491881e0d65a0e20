import { z } from "zod";
import { GuardError, OscdError, UsageError } from "../core/errors.js";
import { formatPublicKey, isStorePath, signDetached, signerOf, type PublicKey, type SecretKey } from "../nix/light.js";
import { canonicalJson } from "./canonical.js";
import { parseStrictJson, quoteForMessage, StrictJsonError, wellFormed } from "./strict-json.js";

export { canonicalJson } from "./canonical.js";

/**
 * The release manifest of DESIGN.md: which toplevel each host of a channel should run,
 * signed with the fleet key in Nix's `name:base64` ed25519 format. The signatures cover the
 * canonical JSON (sorted keys, no whitespace) of every field but `signatures`, so the file's
 * own formatting does not matter. The pull agent imports this module to check what it reads.
 */
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

const signatureSchema = z.string().refine(isStrictSignature, "not a signature: name:base64 of 64 bytes, strict base64");

const storePathSchema = z.string().refine(isStorePath, "not a Nix store path");

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

/**
 * One file oscd hashed itself: `path` (a store path) + `file` inside it, the SHA-256 of its
 * bytes and its size. Covered by the manifest signature like everything else in an entry.
 */
const storeFileSchema = z
  .object({
    path: storePathSchema,
    file: z.string().refine(isStoreRelativeFile, "a relative path inside the store path"),
    hash: z.string().regex(SRI_SHA256, "sha256-<base64> (SRI) of the file"),
    size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })
  .strict();

/** A built machine image (`oscd image`): the file, and the toplevel it was built with. */
const imageEntrySchema = storeFileSchema.extend({ toplevel: storePathSchema }).strict();

/** Kernel parameters go into an iPXE script line: printable ASCII only, and no `$` (iPXE expands `${…}`). */
export const NETBOOT_PARAMS = /^[\x20-\x23\x25-\x7e]{0,4096}$/;

/** What a host netboots (`oscd image --format netboot`): kernel, initrd and parameters of `toplevel`. */
const netbootEntrySchema = z
  .object({
    toplevel: storePathSchema,
    kernel: storeFileSchema,
    initrd: storeFileSchema,
    params: z.string().regex(NETBOOT_PARAMS, "printable ASCII without '$'"),
  })
  .strict();

/**
 * `images` and `netboot` are optional: manifests from before them verify as they were (the
 * canonical form leaves absent fields out), and a plain publish writes none.
 */
const hostEntrySchema = z
  .object({
    toplevel: storePathSchema,
    system: z.string().min(1),
    images: z.record(z.string().regex(IMAGE_FORMAT, "an image format has letters, digits, '_' and '-'"), imageEntrySchema).optional(),
    netboot: netbootEntrySchema.optional(),
  })
  .strict();

const bodyShape = {
  schema: z.literal(MANIFEST_SCHEMA),
  channel: z.string().regex(CHANNEL_NAME, "a channel name has letters, digits, '_' and '-'"),
  sequence: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  version: z.string(),
  commit: z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, "a full commit id"),
  ref: z.string(),
  createdAt: z.string().datetime({ offset: true }),
  /** Until when the manifest may be acted on (see checkFreshness); absent in manifests from before it existed. */
  expiresAt: z.string().datetime({ offset: true }).optional(),
  /**
   * When the publisher signed it (issue 26): a release key's `rejectBefore` in the trust root
   * refuses what it signed before a compromise cut-off. Optional, so manifests from before it
   * verify as they were; readers fall back to `createdAt`.
   */
  signedAt: z.string().datetime({ offset: true }).optional(),
  hosts: z.record(z.string().regex(HOST_NAME, "a host name has letters, digits, - and _"), hostEntrySchema),
  caches: z.array(z.string()),
};

export const manifestBodySchema = z.object(bodyShape).strict();
export const manifestSchema = z.object({ ...bodyShape, signatures: z.array(signatureSchema).max(MAX_SIGNATURES, `at most ${MAX_SIGNATURES} signatures`) }).strict();

export type HostEntry = z.infer<typeof hostEntrySchema>;
export type StoreFile = z.infer<typeof storeFileSchema>;
export type ImageEntry = z.infer<typeof imageEntrySchema>;
export type NetbootEntry = z.infer<typeof netbootEntrySchema>;
/** Everything a manifest says, without its signatures. */
export type ManifestBody = z.infer<typeof manifestBodySchema>;
export type Manifest = z.infer<typeof manifestSchema>;

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

/** A path segment or name from the input, printed as it is when plain, quoted (escaped) otherwise. */
function shown(name: string | number): string {
  return typeof name === "number" || /^[A-Za-z0-9._+-]{1,64}$/.test(name) ? String(name) : quoteForMessage(name);
}

/** `where` is the caller's (a path or URL) but may hold anything a user typed: one line, always. */
function oneLine(where: string): string {
  const control = [...where].some((c) => {
    const n = c.codePointAt(0) ?? 0;
    return n < 0x20 || n === 0x7f || n === 0x2028 || n === 0x2029;
  });
  return control || !wellFormed(where) ? quoteForMessage(where, 200) : where;
}

/**
 * Parses and validates manifest text (`where` names it in errors: a path or URL). Strict JSON
 * (no duplicate keys, no lone surrogates, bounded nesting), then the schema; every refusal is
 * a ManifestFormatError (exit 3) on one line.
 */
export function parseManifest(text: string, where = "the manifest"): Manifest {
  let raw: unknown;
  try {
    if (typeof text !== "string") throw new StrictJsonError("not text", 1, 1);
    raw = parseStrictJson(text);
  } catch (e) {
    if (e instanceof StrictJsonError) throw new ManifestFormatError(oneLine(where), `not JSON (${e.message})`);
    throw e;
  }
  const r = manifestSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 3).map((i) => `${i.path.map(shown).join(".") || "(top level)"}: ${i.code === "unrecognized_keys" ? `unknown key(s) ${i.keys.map(shown).join(", ")}` : i.message}`);
    throw new ManifestFormatError(oneLine(where), issues.join("; "));
  }
  return r.data;
}

/** The exact bytes signatures cover: canonical JSON of every field except `signatures`. */
export function manifestSigningBytes(m: ManifestBody | Manifest): string {
  const { signatures: _ignored, ...body } = m as Manifest;
  return canonicalJson(body);
}

/** Signs a body with one or more keys (several during a key rotation). */
export function signManifest(body: ManifestBody, keys: SecretKey | readonly SecretKey[]): Manifest {
  const list = Array.isArray(keys) ? (keys as readonly SecretKey[]) : [keys as SecretKey];
  if (list.length === 0 || list.length > MAX_SIGNATURES) throw new OscdError("manifest-sign", `a manifest is signed with 1 to ${MAX_SIGNATURES} keys, not ${list.length}`);
  const r = manifestBodySchema.safeParse(body);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new OscdError("manifest-sign", `cannot sign a manifest that is not valid: ${i ? `${i.path.map(shown).join(".") || "(top level)"}: ${i.message}` : "invalid"}`);
  }
  const checked = r.data;
  const bytes = manifestSigningBytes(checked);
  return { ...checked, signatures: list.map((k) => signDetached(k, bytes)) };
}

/**
 * Adds a signature to a signed manifest without changing what is signed (a second person
 * approving a release, `oscd manifest sign`). A key that already signed these bytes is not
 * added twice (it would count once anyway); `signedAt` stays the first signer's.
 */
export function addManifestSignature(m: Manifest, key: SecretKey): { manifest: Manifest; added: boolean } {
  const bytes = manifestSigningBytes(m);
  const pub = { name: key.name, key: key.publicKey };
  if (m.signatures.some((s) => signerOf([pub], bytes, s) !== undefined)) return { manifest: m, added: false };
  if (m.signatures.length >= MAX_SIGNATURES) throw new OscdError("manifest-sign", `the manifest already carries ${m.signatures.length} signatures, the most a reader checks`, { exitCode: 2 });
  return { manifest: { ...m, signatures: [...m.signatures, signDetached(key, bytes)] }, added: true };
}

/**
 * Checks the manifest's signatures against the trusted keys; returns the key that signed it.
 * Refuses (exit 3) when no signature by a trusted key matches the content.
 */
export function verifyManifest(m: Manifest, trusted: readonly PublicKey[], where = "the manifest"): PublicKey {
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

/** Parses and verifies in one step. */
export function readTrustedManifest(text: string, trusted: readonly PublicKey[], where = "the manifest"): { manifest: Manifest; signer: PublicKey } {
  const manifest = parseManifest(text, where);
  return { manifest, signer: verifyManifest(manifest, trusted, where) };
}

/** True when two manifests say the same thing (ignoring sequence, creation and expiry times, and signatures). */
export function sameContent(a: ManifestBody, b: ManifestBody): boolean {
  const strip = (m: ManifestBody) => canonicalJson({ ...m, sequence: 0, createdAt: "", expiresAt: undefined, signedAt: undefined, signatures: undefined });
  return strip(a) === strip(b);
}

export type SequenceCheck = "newer" | "same";

/**
 * Monotonicity: `next` must be the same channel and a higher sequence than `previous`; the same
 * sequence is accepted only for the very same content (reading one manifest twice). Anything
 * else is refused (exit 3): an older sequence is a replay or rollback, a reused one a fork.
 */
export function checkSequence(previous: ManifestBody | undefined, next: ManifestBody): SequenceCheck {
  if (!previous) return "newer";
  if (previous.channel !== next.channel) {
    throw new ManifestSequenceError(`the manifest is for channel ${next.channel}, but the previous one is for ${previous.channel}`);
  }
  if (next.sequence > previous.sequence) return "newer";
  if (next.sequence === previous.sequence) {
    if (sameContent(previous, next)) return "same";
    throw new ManifestSequenceError(`channel ${next.channel}: two different manifests carry sequence ${next.sequence}`);
  }
  throw new ManifestSequenceError(`channel ${next.channel}: sequence went backwards (${next.sequence} after ${previous.sequence})`);
}

export function nextSequence(previous: Pick<ManifestBody, "sequence"> | undefined): number {
  return (previous?.sequence ?? 0) + 1;
}

/** The file form: indented JSON with a final newline (signatures cover the canonical form). */
export function serializeManifest(m: Manifest): string {
  const ordered: Manifest = {
    schema: m.schema,
    channel: m.channel,
    sequence: m.sequence,
    version: m.version,
    commit: m.commit,
    ref: m.ref,
    createdAt: m.createdAt,
    expiresAt: m.expiresAt,
    signedAt: m.signedAt,
    hosts: Object.fromEntries(Object.keys(m.hosts).sort().map((h) => [h, m.hosts[h] as HostEntry])),
    caches: m.caches,
    signatures: m.signatures,
  };
  return JSON.stringify(ordered, null, 2) + "\n";
}

/** Names of the keys that signed (not checked): for display. */
export function signatureKeyNames(m: Manifest): string[] {
  return m.signatures.map((s) => s.slice(0, Math.max(0, s.indexOf(":"))));
}

export function describeKey(k: PublicKey): string {
  return `${k.name} (${formatPublicKey(k).slice(k.name.length + 1, k.name.length + 13)}…)`;
}
