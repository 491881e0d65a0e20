import { OscdError } from "../core/errors.js";
import { parseNixHash, toNix32 } from "./hash.js";
import { signDetached, verifyDetached, type PublicKey, type SecretKey } from "./keys.js";
import { STORE_DIR, isStorePath } from "./storepath.js";

/** The fields of a binary cache's `<hash>.narinfo` that signatures and oscd care about. */
export interface NarInfo {
  storePath: string;
  url: string;
  compression: string;
  fileHash?: string;
  fileSize?: number;
  narHash: string;
  narSize: number;
  /** Base names, as written in the file. */
  references: string[];
  deriver?: string;
  sigs: string[];
  /** Lines oscd does not interpret, kept in order so formatting round-trips. */
  extra: [string, string][];
}

/**
 * A narinfo that is not what Nix writes. The message names the line, never its content: a
 * narinfo may be any file put where one was expected (a bundle's link to a root-only file).
 */
export class NarInfoFormatError extends OscdError {
  constructor(
    readonly reason: string,
    readonly line?: number,
  ) {
    super("narinfo-format", line === undefined ? `narinfo ${reason}` : `narinfo line ${line}: ${reason}`, { hint: "the cache holds a damaged .narinfo file; upload the path again" });
  }
}

/** A narinfo names one path and its references; thousands of references fit in 256 KiB. Reads stop there. */
export const MAX_NARINFO_BYTES = 256 << 10;

const KNOWN = new Set(["StorePath", "URL", "Compression", "FileHash", "FileSize", "NarHash", "NarSize", "References", "Deriver"]);
// What Nix writes and signs: a sha256 in Nix's base-32 (52 characters, no e, o, t or u).
const NAR_HASH = /^sha256:[0-9abcdfghijklmnpqrsvwxyz]{52}$/;

/**
 * Nix reads a narinfo's NarHash in any form it can parse (`sha256:<nix32>`, SRI, hex), and signs
 * its `sha256:<nix32>` rendering; other cache servers may write another form. Read as Nix does,
 * kept as Nix signs it.
 */
function narHashField(value: string): string | undefined {
  if (NAR_HASH.test(value)) return value;
  const h = parseNixHash(value);
  return h?.algorithm === "sha256" ? toNix32(h) : undefined;
}

function size(field: string, value: string | undefined, line: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  // Decimal digits only: Number() would also take "0x10", "1e3", " 7" and "".
  const n = /^(?:0|[1-9][0-9]*)$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new NarInfoFormatError(`${field} is not a size`, line);
  return n;
}

/**
 * Parses a narinfo strictly: a field other than `Sig` given twice is refused (a reader that
 * took the first value would see other bytes than the one that took the last), and the
 * fields that signatures cover must have the form Nix signs.
 */
export function parseNarInfo(text: string): NarInfo {
  const fields = new Map<string, string>();
  const lineOf = new Map<string, number>();
  const sigs: string[] = [];
  const extra: [string, string][] = [];
  const seen = new Set<string>();
  for (const [n, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const i = line.indexOf(": ");
    if (i <= 0) throw new NarInfoFormatError('is not "key: value"', n + 1);
    const k = line.slice(0, i);
    const v = line.slice(i + 2);
    if (k === "Sig") {
      sigs.push(v);
      continue;
    }
    if (seen.has(k)) throw new NarInfoFormatError(`gives ${KNOWN.has(k) ? k : "a field"} more than once`, n + 1);
    seen.add(k);
    lineOf.set(k, n + 1);
    if (KNOWN.has(k)) fields.set(k, v);
    else extra.push([k, v]);
  }
  const need = (k: string): string => {
    const v = fields.get(k);
    if (v === undefined) throw new NarInfoFormatError(`has no ${k} field`);
    return v;
  };
  const narSize = size("NarSize", need("NarSize"), lineOf.get("NarSize")) ?? 0;
  const narHash = narHashField(need("NarHash"));
  if (narHash === undefined) throw new NarInfoFormatError("NarHash is not a sha256 hash", lineOf.get("NarHash"));
  const refs = (fields.get("References") ?? "").split(" ").filter(Boolean);
  for (const r of refs) {
    if (!isStorePath(`${STORE_DIR}/${r}`)) throw new NarInfoFormatError("a reference is not the base name of a store path", lineOf.get("References"));
  }
  const storePath = need("StorePath");
  if (!isStorePath(storePath)) throw new NarInfoFormatError("StorePath is not a Nix store path", lineOf.get("StorePath"));
  return {
    storePath,
    url: need("URL"),
    compression: fields.get("Compression") ?? "bzip2",
    fileHash: fields.get("FileHash"),
    fileSize: size("FileSize", fields.get("FileSize"), lineOf.get("FileSize")),
    narHash,
    narSize,
    references: refs,
    deriver: fields.get("Deriver"),
    sigs,
    extra,
  };
}

export function formatNarInfo(n: NarInfo): string {
  const lines = [`StorePath: ${n.storePath}`, `URL: ${n.url}`, `Compression: ${n.compression}`];
  if (n.fileHash !== undefined) lines.push(`FileHash: ${n.fileHash}`);
  if (n.fileSize !== undefined) lines.push(`FileSize: ${n.fileSize}`);
  lines.push(`NarHash: ${n.narHash}`, `NarSize: ${n.narSize}`, `References: ${n.references.join(" ")}`);
  if (n.deriver !== undefined) lines.push(`Deriver: ${n.deriver}`);
  for (const s of n.sigs) lines.push(`Sig: ${s}`);
  for (const [k, v] of n.extra) lines.push(`${k}: ${v}`);
  return lines.join("\n") + "\n";
}

/** What Nix signs: `1;<path>;<narHash>;<narSize>;<comma-separated full reference paths>`. */
export function narInfoFingerprint(n: Pick<NarInfo, "storePath" | "narHash" | "narSize" | "references">): string {
  if (!n.narHash.startsWith("sha256:")) throw new NarInfoFormatError("NarHash must be a sha256 hash");
  const refs = [...n.references].map((r) => (r.startsWith("/") ? r : `${STORE_DIR}/${r}`)).sort();
  return `1;${n.storePath};${n.narHash};${n.narSize};${refs.join(",")}`;
}

/** Adds (or replaces) this key's signature on the narinfo. */
export function signNarInfo(n: NarInfo, key: SecretKey): NarInfo {
  const sig = signDetached(key, narInfoFingerprint(n));
  return { ...n, sigs: [...n.sigs.filter((s) => !s.startsWith(`${key.name}:`)), sig] };
}

export function verifyNarInfo(n: NarInfo, keys: readonly PublicKey[]): boolean {
  return verifyDetached(keys, narInfoFingerprint(n), n.sigs);
}
