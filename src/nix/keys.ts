import { registerSecret } from "../core/command-log.js";
import type { KeyObject } from "node:crypto";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { OscdError } from "../core/errors.js";
import { quoteUntrusted } from "./untrusted.js";
import { pathExists } from "../core/fs.js";

/**
 * node:crypto when a key is used, not when this module is imported: loading it costs some
 * 13 ms of CPU, and `oscd status` (which imports the key helpers through src/nix/light.ts)
 * never signs or verifies. (atomic.ts and the journal take their random names the same way.)
 */
const crypto = () => process.getBuiltinModule("node:crypto");

/**
 * Nix's key format, `name:base64`: a secret key is the 64-byte ed25519 secret (32-byte seed
 * then the 32-byte public key), a public key the 32-byte public key. The same key signs
 * narinfos (read by Nix) and oscd manifests (read by oscd).
 */
export interface SecretKey {
  name: string;
  seed: Buffer;
  publicKey: Buffer;
}

export interface PublicKey {
  name: string;
  key: Buffer;
}

export class KeyFormatError extends OscdError {
  constructor(message: string) {
    super("key-format", message, {
      hint: "a Nix key looks like `name:base64`; make one with `oscd keys generate NAME` or `nix key generate-secret --key-name NAME`",
      exitCode: 2,
    });
  }
}

/**
 * Key names: Nix splits `name:base64` at the first `:` and lists trusted keys separated by
 * spaces, so neither may appear; oscd also keeps names to characters that are safe in file
 * names and log lines, and short enough that `<name>.secret` is a valid file name.
 */
const KEY_NAME = /^[A-Za-z0-9._+-]+$/;
export const KEY_NAME_MAX = 128;

/** Why `name` is not a key name, or undefined when it is one. */
export function keyNameProblem(name: string): string | undefined {
  if (name.length === 0) return "it is empty";
  if (name.length > KEY_NAME_MAX) return `it is longer than ${KEY_NAME_MAX} characters`;
  if (!KEY_NAME.test(name)) return "use letters, digits, '.', '-', '_' or '+'";
  return undefined;
}

/** Base64 exactly as Nix and Node write it: padded, standard alphabet, no unused bits set. */
function decodeCanonicalBase64(b64: string): Buffer | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64)) return undefined;
  const raw = Buffer.from(b64, "base64");
  return raw.toString("base64") === b64 ? raw : undefined;
}

function splitKey(text: string, what: string): [string, Buffer] {
  const s = text.trim();
  const i = s.indexOf(":");
  if (i <= 0) throw new KeyFormatError(`${what} has no \`name:\` prefix`);
  const name = s.slice(0, i);
  const problem = keyNameProblem(name);
  if (problem !== undefined) throw new KeyFormatError(`${what} has an invalid name ${quoteUntrusted(name)}: ${problem}`);
  const raw = decodeCanonicalBase64(s.slice(i + 1));
  if (raw === undefined || raw.length === 0) throw new KeyFormatError(`${what} ${name} is not valid base64`);
  return [name, raw];
}

export function parseSecretKey(text: string): SecretKey {
  const [name, raw] = splitKey(text, "secret key");
  if (raw.length !== 64) throw new KeyFormatError(`secret key ${name} has ${raw.length} bytes, expected 64`);
  const sk = { name, seed: raw.subarray(0, 32), publicKey: raw.subarray(32) };
  const derived = publicFromSeed(sk.seed);
  if (!derived.equals(sk.publicKey)) throw new KeyFormatError(`secret key ${name} is corrupt: its public half does not match its seed`);
  return sk;
}

export function parsePublicKey(text: string): PublicKey {
  const [name, key] = splitKey(text, "public key");
  if (key.length !== 32) throw new KeyFormatError(`public key ${name} has ${key.length} bytes, expected 32`);
  return { name, key };
}

export function formatSecretKey(k: SecretKey): string {
  return `${k.name}:${Buffer.concat([k.seed, k.publicKey]).toString("base64")}`;
}

export function formatPublicKey(k: PublicKey): string {
  return `${k.name}:${k.key.toString("base64")}`;
}

export function publicKeyOf(k: SecretKey): PublicKey {
  return { name: k.name, key: k.publicKey };
}

export function generateSecretKey(name: string): SecretKey {
  const problem = keyNameProblem(name);
  if (problem !== undefined) throw new KeyFormatError(`invalid key name ${quoteUntrusted(name)}: ${problem}`);
  const { privateKey, publicKey } = crypto().generateKeyPairSync("ed25519");
  const d = privateKey.export({ format: "jwk" }).d;
  const x = publicKey.export({ format: "jwk" }).x;
  if (!d || !x) throw new Error("node:crypto did not export an ed25519 JWK");
  return { name, seed: Buffer.from(d, "base64url"), publicKey: Buffer.from(x, "base64url") };
}

function publicFromSeed(seed: Buffer): Buffer {
  const x = crypto().createPublicKey(privateKeyObject(seed)).export({ format: "jwk" }).x;
  if (!x) throw new Error("node:crypto did not export an ed25519 public key");
  return Buffer.from(x, "base64url");
}

// RFC 8410's PKCS#8 prefix for an ed25519 private key; the 32-byte seed follows it.
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

// Key objects made once per key buffer: importing a key cost as much as the signature itself
// when publish signs, or a server checks, 10,000 host views (bench/fleet.ts). Keyed by the
// buffer object, so a key that is dropped takes its entry with it.
const privateObjects = new WeakMap<Buffer, KeyObject>();
const publicObjects = new WeakMap<Buffer, KeyObject>();

function privateKeyObject(seed: Buffer): KeyObject {
  let k = privateObjects.get(seed);
  // Node imports a raw ed25519 seed only through PKCS#8 or a JWK; a JWK needs the public half too
  // (Node 24 refuses one without it), so the seed goes in the fixed PKCS#8 wrapper.
  if (!k) privateObjects.set(seed, (k = crypto().createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" })));
  return k;
}

// Public keys also by value: callers that parse the same configured key text again (the agent
// on every manifest and narinfo) get new buffers each time. Public, so nothing secret is held;
// bounded, since keys come from configuration and trust roots, a handful per process.
const publicByValue = new Map<string, KeyObject>();
const MAX_PUBLIC_BY_VALUE = 256;

function publicKeyObject(key: Buffer): KeyObject {
  let k = publicObjects.get(key);
  if (k) return k;
  const x = key.toString("base64url");
  k = publicByValue.get(x);
  if (!k) {
    if (publicByValue.size >= MAX_PUBLIC_BY_VALUE) publicByValue.clear();
    publicByValue.set(x, (k = crypto().createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" })));
  }
  publicObjects.set(key, k);
  return k;
}

/** Signs bytes; returns the signature in Nix's `name:base64` form. */
export function signDetached(k: SecretKey, data: string | Buffer): string {
  const sig = crypto().sign(null, Buffer.from(data), privateKeyObject(k.seed));
  return `${k.name}:${sig.toString("base64")}`;
}

/**
 * True when one of `sigs` is a valid signature of `data` by a key in `keys` (matched by name,
 * as Nix does). Never throws on a malformed signature: it just does not count.
 */
export function verifyDetached(keys: readonly PublicKey[], data: string | Buffer, sigs: readonly string[]): boolean {
  return sigs.some((s) => signerOf(keys, data, s) !== undefined);
}

/** The key that made `sig` over `data`, if it is one of `keys`. */
export function signerOf(keys: readonly PublicKey[], data: string | Buffer, sig: string): PublicKey | undefined {
  const i = sig.indexOf(":");
  if (i <= 0) return undefined;
  const name = sig.slice(0, i);
  // Strict decoding: junk characters, base64url or missing padding make no valid signature.
  const raw = decodeCanonicalBase64(sig.slice(i + 1));
  if (raw === undefined || raw.length !== 64) return undefined;
  for (const k of keys) {
    if (k.name !== name) continue;
    try {
      if (crypto().verify(null, Buffer.from(data), publicKeyObject(k.key), raw)) return k;
    } catch {
      // A key that Node cannot import verifies nothing.
    }
  }
  return undefined;
}

export async function readSecretKeyFile(path: string): Promise<SecretKey> {
  return parseSecretKey(await readKeyFile(path, "secret key"));
}

export async function readPublicKeyFile(path: string): Promise<PublicKey> {
  return parsePublicKey(await readKeyFile(path, "public key"));
}

async function readKeyFile(path: string, what: string): Promise<string> {
  try {
    const text = await readFile(path, "utf8");
    // A secret key never shows in `oscd -v` (a public key is no secret, but masking it is harmless).
    if (what === "secret key") registerSecret(text);
    return text;
  } catch (e) {
    throw new OscdError("key-missing", `cannot read ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
      hint: "check the path, or make a key pair with `oscd keys generate NAME`",
      exitCode: 2,
      cause: e,
    });
  }
}

export class KeyWriteError extends OscdError {
  constructor(path: string, detail: string, cause?: unknown) {
    super("key-write", `cannot write key file ${path}: ${detail}`, {
      hint: "choose paths in existing, writable directories with --secret-file/--public-file",
      exitCode: 2,
      cause,
    });
  }
}

async function assertDirectory(path: string): Promise<void> {
  const dir = dirname(path);
  const st = await stat(dir).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) throw new KeyWriteError(path, st.code === "ENOENT" ? `the directory ${dir} does not exist` : `cannot use the directory ${dir}: ${st.code ?? st.message}`, st);
  if (!st.isDirectory()) throw new KeyWriteError(path, `${dir} is not a directory`);
}

/**
 * Writes a secret key readable only by its owner, and the public key beside it: both or
 * neither. Every check is made before the first byte is written, and a secret whose public
 * key could not be written is removed again, so no orphan secret key is left behind.
 */
export async function writeKeyPair(k: SecretKey, secretPath: string, publicPath: string): Promise<void> {
  if (secretPath === publicPath) throw new KeyWriteError(publicPath, "the secret and the public key need two different files");
  // Exclusive create: a key that signs a fleet is never overwritten by accident.
  for (const p of [secretPath, publicPath]) {
    if (await pathExists(p)) {
      throw new OscdError("key-exists", `${p} already exists; oscd never overwrites a key`, {
        hint: "choose other paths with --secret-file/--public-file, or move the old key away first",
        exitCode: 2,
      });
    }
    await assertDirectory(p);
  }
  try {
    await writeFile(secretPath, formatSecretKey(k), { mode: 0o600, flag: "wx" });
  } catch (e) {
    throw new KeyWriteError(secretPath, (e as NodeJS.ErrnoException).code ?? "write failed", e);
  }
  try {
    await writeFile(publicPath, formatPublicKey(publicKeyOf(k)) + "\n", { mode: 0o644, flag: "wx" });
  } catch (e) {
    // Only the file written just above (created exclusively) is removed.
    await rm(secretPath, { force: true });
    throw new KeyWriteError(publicPath, `${(e as NodeJS.ErrnoException).code ?? "write failed"}; the secret key was not kept`, e);
  }
}
