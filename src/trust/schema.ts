import { z } from "zod";
import { GuardError } from "../core/errors.js";
import { CHANNEL_NAME, isStrictSignature, parseStrictJson, quoteForMessage, StrictJsonError, wellFormed } from "../manifest/light.js";
import { isStorePath, parsePublicKey } from "../nix/light.js";

/**
 * The two signed documents of the trust layer (docs/trust.md):
 *
 * - the trust root `oscd.trust/v1`: root keys and their threshold (they sign the next
 *   version, and stay offline); per channel the release keys that sign manifests and how many
 *   must; the cache keys machines accept for store paths; an expiry. Versions only go up, and
 *   version N+1 needs the root threshold of N and of N+1 (rotation.ts).
 * - the revocation list `oscd.revocations/v1` of one channel: releases (sequences), commits and
 *   toplevels no machine may activate again, signed by the channel's release threshold.
 *
 * Both are read as strictly as the manifest (no duplicate keys, no unknown fields) and signed
 * over their canonical JSON without `signatures`.
 */
export const TRUST_SCHEMA = "oscd.trust/v1";
export const REVOCATIONS_SCHEMA = "oscd.revocations/v1";

/** Keys per role, and signatures per document: far above any real ceremony, low enough that verifying is cheap. */
export const MAX_ROLE_KEYS = 16;
export const MAX_TRUST_SIGNATURES = 32;
export const MAX_REVOKED = 10_000;
/** The channel entry that applies to every channel the trust root does not name. */
export const ANY_CHANNEL = "*";

const time = z.string().datetime({ offset: true });

const publicKeyText = z.string().refine((k) => {
  try {
    parsePublicKey(k);
    return !/\s/.test(k);
  } catch {
    return false;
  }
}, "not a Nix public key name:base64 (32 bytes)");

/** A key and, optionally, the time before which nothing it signed counts (a compromise cut-off). */
const keyEntrySchema = z.object({ key: publicKeyText, rejectBefore: time.optional() }).strict();

function distinctKeys(keys: readonly { key: string }[], ctx: z.RefinementCtx): void {
  const names = new Set<string>();
  const bytes = new Set<string>();
  keys.forEach((k, i) => {
    let pk;
    try {
      pk = parsePublicKey(k.key);
    } catch {
      return; // reported by the key's own check
    }
    // Nix and oscd find a signature's key by name: two keys of one name would shadow each other,
    // and one key listed twice would count twice toward a threshold.
    if (names.has(pk.name)) ctx.addIssue({ code: "custom", path: ["keys", i], message: `the key name ${pk.name} is listed twice` });
    if (bytes.has(pk.key.toString("base64"))) ctx.addIssue({ code: "custom", path: ["keys", i], message: "the same key is listed twice" });
    names.add(pk.name);
    bytes.add(pk.key.toString("base64"));
  });
}

const roleShape = {
  keys: z.array(keyEntrySchema).min(1).max(MAX_ROLE_KEYS),
  threshold: z.number().int().min(1).max(MAX_ROLE_KEYS),
};

function checkRole(r: { keys: { key: string }[]; threshold: number }, ctx: z.RefinementCtx): void {
  distinctKeys(r.keys, ctx);
  if (r.threshold > r.keys.length) ctx.addIssue({ code: "custom", path: ["threshold"], message: `a threshold of ${r.threshold} with ${r.keys.length} key(s) can never be met` });
}

const roleSchema = z.object(roleShape).strict().superRefine(checkRole);

/**
 * What a machine does when the release it runs is revoked: `report` (say so, change nothing),
 * `newest` (move to the channel's newest release that is not revoked), `rollback` (go back to
 * the newest earlier generation that is not revoked).
 */
export const ON_REVOKED = ["report", "newest", "rollback"] as const;

const channelPolicySchema = z
  .object({
    ...roleShape,
    onRevoked: z.enum(ON_REVOKED).optional(),
    /**
     * Sequences recorded before this time no longer hold the channel, and manifests created
     * before it are refused: set when a release key is removed, so a huge sequence signed by a
     * leaked key cannot lock the channel after the rotation (fast-forward).
     */
    sequenceEpoch: time.optional(),
  })
  .strict()
  .superRefine(checkRole);

const channelKey = z.string().refine((c) => c === ANY_CHANNEL || (c.length <= 63 && CHANNEL_NAME.test(c)), "a channel name, or * for every other channel");

const trustShape = {
  schema: z.literal(TRUST_SCHEMA),
  version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  createdAt: time,
  expiresAt: time,
  root: roleSchema,
  channels: z
    .record(channelKey, channelPolicySchema)
    .refine((c) => Object.keys(c).length > 0, "at least one channel (or *)"),
  cacheKeys: z.array(publicKeyText).min(1).max(MAX_ROLE_KEYS),
};

const signaturesSchema = z.array(z.string().refine(isStrictSignature, "not a signature: name:base64 of 64 bytes, strict base64")).max(MAX_TRUST_SIGNATURES, `at most ${MAX_TRUST_SIGNATURES} signatures`);

export const trustBodySchema = z.object(trustShape).strict();
export const trustRootSchema = z.object({ ...trustShape, signatures: signaturesSchema }).strict();

export type KeyEntry = z.infer<typeof keyEntrySchema>;
export type Role = z.infer<typeof roleSchema>;
export type ChannelPolicy = z.infer<typeof channelPolicySchema>;
export type TrustBody = z.infer<typeof trustBodySchema>;
export type TrustRoot = z.infer<typeof trustRootSchema>;

const reason = z.string().max(500).regex(/^[\x20-\x7e]*$/, "printable ASCII");

/** One revoked thing: a release (the channel's sequence), a commit or a toplevel. Exactly one. */
const revokedSchema = z
  .object({
    sequence: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
    commit: z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, "a full commit id").optional(),
    toplevel: z.string().refine(isStorePath, "a store path").optional(),
    reason,
  })
  .strict()
  .refine((r) => [r.sequence, r.commit, r.toplevel].filter((x) => x !== undefined).length === 1, "names exactly one of sequence, commit or toplevel");

const revocationsShape = {
  schema: z.literal(REVOCATIONS_SCHEMA),
  channel: z.string().max(63).regex(CHANNEL_NAME, "a channel name"),
  version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  createdAt: time,
  revoked: z.array(revokedSchema).max(MAX_REVOKED),
};

export const revocationsBodySchema = z.object(revocationsShape).strict();
export const revocationsSchema = z.object({ ...revocationsShape, signatures: signaturesSchema }).strict();
export type Revoked = z.infer<typeof revokedSchema>;
export type RevocationsBody = z.infer<typeof revocationsBodySchema>;
export type Revocations = z.infer<typeof revocationsSchema>;

export class TrustFormatError extends GuardError {
  constructor(where: string, what: string, detail: string) {
    super("trust-format", `${oneLine(where)} is not ${what}: ${detail}`, "trust roots are written by `oscd trust init|rotate`, revocation lists by `oscd trust revoke`; fetch the file again");
  }
}

function shown(name: string | number): string {
  return typeof name === "number" || /^[A-Za-z0-9._+*-]{1,64}$/.test(name) ? String(name) : quoteForMessage(name);
}

export function oneLine(where: string): string {
  const control = [...where].some((c) => {
    const n = c.codePointAt(0) ?? 0;
    return n < 0x20 || n === 0x7f || n === 0x2028 || n === 0x2029;
  });
  return control || !wellFormed(where) ? quoteForMessage(where, 200) : where;
}

function parseWith<T>(schema: z.ZodType<T>, text: string, where: string, what: string, maxLength: number): T {
  let raw: unknown;
  try {
    if (typeof text !== "string") throw new StrictJsonError("not text", 1, 1);
    raw = parseStrictJson(text, { maxLength });
  } catch (e) {
    if (e instanceof StrictJsonError) throw new TrustFormatError(where, what, `not JSON (${e.message})`);
    throw e;
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 3).map((i) => `${i.path.map(shown).join(".") || "(top level)"}: ${i.code === "unrecognized_keys" ? `unknown key(s) ${i.keys.map(shown).join(", ")}` : i.message}`);
    throw new TrustFormatError(where, what, issues.join("; "));
  }
  return r.data;
}

/** A trust root is a few KiB; anything above this is not one (endless data is cut before parsing). */
export const MAX_TRUST_BYTES = 1024 * 1024;
/** A revocation list of MAX_REVOKED entries with long reasons fits. */
export const MAX_REVOCATIONS_BYTES = 8 * 1024 * 1024;

export function parseTrustRoot(text: string, where = "the trust root"): TrustRoot {
  return parseWith(trustRootSchema, text, where, "an oscd trust root", MAX_TRUST_BYTES);
}

export function parseRevocations(text: string, where = "the revocation list"): Revocations {
  return parseWith(revocationsSchema, text, where, "an oscd revocation list", MAX_REVOCATIONS_BYTES);
}

/** The channel's policy: its own entry, else `*`, else none (no key may sign for it). */
export function channelPolicy(root: Pick<TrustBody, "channels">, channel: string): ChannelPolicy | undefined {
  if (Object.hasOwn(root.channels, channel)) return root.channels[channel];
  return Object.hasOwn(root.channels, ANY_CHANNEL) ? root.channels[ANY_CHANNEL] : undefined;
}

/** File form: indented, keys in a readable order, final newline (signatures cover the canonical form). */
export function serializeTrustRoot(t: TrustRoot): string {
  const ordered: TrustRoot = {
    schema: t.schema,
    version: t.version,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    root: t.root,
    channels: Object.fromEntries(Object.keys(t.channels).sort().map((c) => [c, t.channels[c] as ChannelPolicy])),
    cacheKeys: t.cacheKeys,
    signatures: t.signatures,
  };
  return JSON.stringify(ordered, null, 2) + "\n";
}

export function serializeRevocations(r: Revocations): string {
  const ordered: Revocations = { schema: r.schema, channel: r.channel, version: r.version, createdAt: r.createdAt, revoked: r.revoked, signatures: r.signatures };
  return JSON.stringify(ordered, null, 2) + "\n";
}
