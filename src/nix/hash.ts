import { nixBase32 } from "./narhash.js";

/**
 * Hashes as Nix prints them, in every form its outputs use: `sha256:<nix32>` (narinfo files,
 * what Nix signs), `sha256:<hex>` and `sha256:<base64>`, SRI `sha256-<base64>` (`nix path-info
 * --json` since 2.4), and the structured `{ "algorithm", "format", "hash" }` object that Nix's
 * development branch used for JSON hashes before 2.33 settled on SRI strings.
 */
export interface NixHash {
  algorithm: HashAlgorithm;
  digest: Buffer;
}

export type HashAlgorithm = "md5" | "sha1" | "sha256" | "sha512";

const SIZES: Record<HashAlgorithm, number> = { md5: 16, sha1: 20, sha256: 32, sha512: 64 };
const NIX32 = "0123456789abcdfghijklmnpqrsvwxyz";

function isAlgorithm(a: string): a is HashAlgorithm {
  return a in SIZES;
}

function nix32Length(bytes: number): number {
  return Math.ceil((bytes * 8) / 5);
}

/** Decodes Nix's base-32 (its own alphabet, least significant bits first); undefined if not. */
export function decodeNixBase32(text: string, bytes: number): Buffer | undefined {
  if (text.length !== nix32Length(bytes)) return undefined;
  const out = Buffer.alloc(bytes);
  for (let n = 0; n < text.length; n++) {
    const c = text[text.length - n - 1] as string;
    const digit = NIX32.indexOf(c);
    if (digit < 0) return undefined;
    const b = n * 5;
    const i = Math.floor(b / 8);
    const j = b % 8;
    out[i] = ((out[i] as number) | (digit << j)) & 0xff;
    const carry = digit >> (8 - j);
    if (i + 1 < bytes) out[i + 1] = ((out[i + 1] as number) | carry) & 0xff;
    else if (carry !== 0) return undefined;
  }
  return out;
}

function decodeBase64(text: string, bytes: number): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  const b = Buffer.from(text, "base64");
  return b.length === bytes && b.toString("base64") === text ? b : undefined;
}

function decodeHex(text: string, bytes: number): Buffer | undefined {
  return text.length === bytes * 2 && /^[0-9a-f]+$/.test(text) ? Buffer.from(text, "hex") : undefined;
}

function decodeAny(body: string, algorithm: HashAlgorithm): Buffer | undefined {
  const size = SIZES[algorithm];
  if (body.length === size * 2) return decodeHex(body, size);
  if (body.length === nix32Length(size)) return decodeNixBase32(body, size);
  return decodeBase64(body, size);
}

/** Reads a hash in any form Nix prints; undefined when `value` is none of them. */
export function parseNixHash(value: unknown): NixHash | undefined {
  if (typeof value === "string") {
    const sri = /^([a-z0-9]+)-(.+)$/.exec(value);
    if (sri && isAlgorithm(sri[1] as string)) {
      const algorithm = sri[1] as HashAlgorithm;
      const digest = decodeBase64(sri[2] as string, SIZES[algorithm]);
      return digest ? { algorithm, digest } : undefined;
    }
    const prefixed = /^([a-z0-9]+):(.+)$/.exec(value);
    if (prefixed && isAlgorithm(prefixed[1] as string)) {
      const algorithm = prefixed[1] as HashAlgorithm;
      const digest = decodeAny(prefixed[2] as string, algorithm);
      return digest ? { algorithm, digest } : undefined;
    }
    return undefined;
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (typeof o.algorithm !== "string" || typeof o.hash !== "string" || !isAlgorithm(o.algorithm)) return undefined;
    const size = SIZES[o.algorithm];
    const format = typeof o.format === "string" ? o.format : "base16";
    const digest =
      format === "base16" ? decodeHex(o.hash, size) : format === "nix32" || format === "base32" ? decodeNixBase32(o.hash, size) : format === "base64" ? decodeBase64(o.hash, size) : format === "sri" ? parseNixHash(o.hash)?.digest : undefined;
    return digest ? { algorithm: o.algorithm, digest } : undefined;
  }
  return undefined;
}

/** `sha256-<base64>`. */
export function toSri(h: NixHash): string {
  return `${h.algorithm}-${h.digest.toString("base64")}`;
}

/** `sha256:<nix32>`: the form narinfo files carry and Nix signs. */
export function toNix32(h: NixHash): string {
  return `${h.algorithm}:${nixBase32(h.digest)}`;
}
