import { z } from "zod";
import { CHANNEL_NAME, isStrictSignature, parseStrictJson, quoteForMessage, StrictJsonError } from "../manifest/light.js";
import { isStorePath, parsePublicKey } from "../nix/light.js";
import { ANY_CHANNEL, MAX_REVOCATIONS_BYTES, MAX_REVOKED, MAX_ROLE_KEYS, MAX_TRUST_BYTES, MAX_TRUST_SIGNATURES, ON_REVOKED, REVOCATIONS_SCHEMA, TRUST_SCHEMA, TrustFormatError } from "./format.js";

export * from "./format.js";

// The zod schemas of the trust documents (docs/trust.md; format.ts: the rest of their format).

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

function shown(name: string | number): string {
  return typeof name === "number" || /^[A-Za-z0-9._+*-]{1,64}$/.test(name) ? String(name) : quoteForMessage(name);
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

export function parseTrustRoot(text: string, where = "the trust root"): TrustRoot {
  return parseWith(trustRootSchema, text, where, "an oscd trust root", MAX_TRUST_BYTES);
}

export function parseRevocations(text: string, where = "the revocation list"): Revocations {
  return parseWith(revocationsSchema, text, where, "an oscd revocation list", MAX_REVOCATIONS_BYTES);
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
