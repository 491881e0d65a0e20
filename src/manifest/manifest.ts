import { z } from "zod";
import { OscdError } from "../core/errors.js";
import { formatPublicKey, isStorePath, signDetached, signerOf, type PublicKey, type SecretKey } from "../nix/light.js";
import { canonicalJson } from "./canonical.js";
import { CHANNEL_NAME, ManifestSequenceError, HOST_NAME, IMAGE_FORMAT, isStoreRelativeFile, isStrictSignature, MANIFEST_SCHEMA, ManifestFormatError, manifestSigningBytes, MAX_SIGNATURES, NETBOOT_PARAMS, SRI_SHA256, verifyManifest } from "./format.js";
import { oneLine, shown } from "./quote.js";
import { parseStrictJson, StrictJsonError } from "./strict-json.js";

export { canonicalJson } from "./canonical.js";
export * from "./format.js";

/**
 * The release manifest of DESIGN.md: which toplevel each host of a channel should run,
 * signed with the fleet key in Nix's `name:base64` ed25519 format. The signatures cover the
 * canonical JSON (sorted keys, no whitespace) of every field but `signatures`, so the file's
 * own formatting does not matter. The pull agent imports this module to check what it reads.
 * Here: its zod schema and what reads, signs and writes whole manifests (format.ts: its names,
 * limits, errors and the signature check).
 */

const signatureSchema = z.string().refine(isStrictSignature, "not a signature: name:base64 of 64 bytes, strict base64");

const storePathSchema = z.string().refine(isStorePath, "not a Nix store path");

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

/** Parses and verifies in one step. */
export function readTrustedManifest(text: string, trusted: readonly PublicKey[], where = "the manifest"): { manifest: Manifest; signer: PublicKey } {
  const manifest = parseManifest(text, where);
  return { manifest, signer: verifyManifest(manifest, trusted, where) };
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
