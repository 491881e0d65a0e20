import { OscdError } from "../core/errors.js";
import { signDetached, verifyDetached, type PublicKey, type SecretKey } from "./keys.js";
import { STORE_DIR, assertStorePath } from "./storepath.js";

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

export class NarInfoFormatError extends OscdError {
  constructor(message: string) {
    super("narinfo-format", message, { hint: "the cache holds a damaged .narinfo file; upload the path again" });
  }
}

export function parseNarInfo(text: string): NarInfo {
  const fields = new Map<string, string>();
  const sigs: string[] = [];
  const extra: [string, string][] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const i = line.indexOf(": ");
    if (i <= 0) throw new NarInfoFormatError(`narinfo line without "key: value": ${JSON.stringify(line.slice(0, 80))}`);
    const k = line.slice(0, i);
    const v = line.slice(i + 2);
    if (k === "Sig") sigs.push(v);
    else if (["StorePath", "URL", "Compression", "FileHash", "FileSize", "NarHash", "NarSize", "References", "Deriver"].includes(k)) fields.set(k, v);
    else extra.push([k, v]);
  }
  const need = (k: string): string => {
    const v = fields.get(k);
    if (v === undefined) throw new NarInfoFormatError(`narinfo has no ${k} field`);
    return v;
  };
  const narSize = Number(need("NarSize"));
  if (!Number.isSafeInteger(narSize) || narSize < 0) throw new NarInfoFormatError(`narinfo NarSize is not a size: ${fields.get("NarSize")}`);
  const refs = (fields.get("References") ?? "").split(" ").filter(Boolean);
  return {
    storePath: assertStorePath(need("StorePath")),
    url: need("URL"),
    compression: fields.get("Compression") ?? "bzip2",
    fileHash: fields.get("FileHash"),
    fileSize: fields.has("FileSize") ? Number(fields.get("FileSize")) : undefined,
    narHash: need("NarHash"),
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
  if (!n.narHash.startsWith("sha256:")) throw new NarInfoFormatError(`NarHash must be a sha256 hash, got ${n.narHash.slice(0, 20)}`);
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
