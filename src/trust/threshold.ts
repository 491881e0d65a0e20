import { canonicalJson, isStrictSignature } from "../manifest/light.js";
import { parsePublicKey, signerOf, type PublicKey } from "../nix/light.js";
import type { KeyEntry } from "./schema.js";

/** How a document's signatures count against one role (a set of keys and a threshold). */
export interface Count {
  /** Keys whose valid signature counted, each once. */
  counted: PublicKey[];
  /** Keys that signed validly but whose signature does not count (signed before their rejectBefore). */
  rejected: { key: PublicKey; rejectBefore: string }[];
  /** Signatures that verify with no key of the role (other keys, edited content, junk). */
  unmatched: string[];
  threshold: number;
  met: boolean;
}

/** The bytes every signature of a signed document covers: canonical JSON of all but `signatures`. */
export function signingBytes(doc: object): string {
  const { signatures: _ignored, ...body } = doc as { signatures?: unknown };
  return canonicalJson(body);
}

/**
 * Counts the signatures of `bytes` made by the role's keys. Each key counts once, however many
 * signatures it made (two copies of one signature, or one key listed under two names, must not
 * pass as two approvals). A key with `rejectBefore` counts only for documents signed (by their
 * own claim, `signedAt`) at or after that time: what it signed before a compromise cut-off is
 * refused. Signatures are checked up to `maxSignatures`.
 */
export function countSignatures(bytes: string, signatures: readonly string[], keys: readonly KeyEntry[], threshold: number, signedAt: string | undefined, maxSignatures: number): Count {
  const entries = keys.map((e) => ({ entry: e, key: parsePublicKey(e.key) }));
  const pks = entries.map((e) => e.key);
  const counted = new Map<string, PublicKey>();
  const rejected = new Map<string, { key: PublicKey; rejectBefore: string }>();
  const unmatched: string[] = [];
  const signedTime = signedAt === undefined ? Number.NaN : Date.parse(signedAt);
  for (const sig of signatures.slice(0, maxSignatures)) {
    if (!isStrictSignature(sig)) continue;
    const k = signerOf(pks, bytes, sig);
    if (!k) {
      unmatched.push(sig.slice(0, Math.max(0, sig.indexOf(":"))));
      continue;
    }
    const id = k.key.toString("base64");
    const entry = entries.find((e) => e.key.key.equals(k.key))?.entry;
    const cut = entry?.rejectBefore;
    // No (valid) signing time cannot be shown to be after the cut-off: it does not count.
    if (cut !== undefined && !(signedTime >= Date.parse(cut))) {
      rejected.set(id, { key: k, rejectBefore: cut });
      continue;
    }
    counted.set(id, k);
  }
  const list = [...counted.values()];
  return { counted: list, rejected: [...rejected.values()].filter((r) => !counted.has(r.key.key.toString("base64"))), unmatched, threshold, met: list.length >= threshold };
}

/** `a, b and c` for messages. */
export function names(keys: readonly { name: string }[]): string {
  const n = [...new Set(keys.map((k) => k.name))];
  if (n.length === 0) return "nobody";
  return n.length === 1 ? (n[0] as string) : `${n.slice(0, -1).join(", ")} and ${n.at(-1) as string}`;
}
