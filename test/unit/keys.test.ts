import { describe, expect, it } from "vitest";
import {
  KeyFormatError,
  formatPublicKey,
  formatSecretKey,
  generateSecretKey,
  parsePublicKey,
  parseSecretKey,
  publicKeyOf,
  signDetached,
  signerOf,
  verifyDetached,
} from "../../src/nix/index.js";

describe("Nix-format ed25519 keys", () => {
  it("round-trips secret and public keys through the name:base64 format", () => {
    const k = generateSecretKey("fleet-1");
    const text = formatSecretKey(k);
    expect(text).toMatch(/^fleet-1:[A-Za-z0-9+/]{86}==$/);
    const back = parseSecretKey(text);
    expect(back.seed.equals(k.seed)).toBe(true);
    expect(formatPublicKey(parsePublicKey(formatPublicKey(publicKeyOf(k))))).toBe(formatPublicKey(publicKeyOf(k)));
  });

  it("signs and verifies bytes; any change to data or signature fails", () => {
    const k = generateSecretKey("a");
    const pub = publicKeyOf(k);
    const sig = signDetached(k, "manifest bytes");
    expect(verifyDetached([pub], "manifest bytes", [sig])).toBe(true);
    expect(verifyDetached([pub], "manifest bytez", [sig])).toBe(false);
    const raw = Buffer.from(sig.slice(2), "base64");
    raw[10] = (raw[10] ?? 0) ^ 1;
    expect(verifyDetached([pub], "manifest bytes", [`a:${raw.toString("base64")}`])).toBe(false);
  });

  it("matches signatures to keys by name and ignores unknown or malformed signatures", () => {
    const a = generateSecretKey("a");
    const b = generateSecretKey("b");
    const sig = signDetached(a, "x");
    expect(signerOf([publicKeyOf(b), publicKeyOf(a)], "x", sig)?.name).toBe("a");
    expect(verifyDetached([publicKeyOf(b)], "x", [sig])).toBe(false);
    // Same name, other key: a rotated key must not verify the old one's signatures.
    const a2 = generateSecretKey("a");
    expect(verifyDetached([publicKeyOf(a2)], "x", [sig])).toBe(false);
    expect(verifyDetached([publicKeyOf(a)], "x", ["garbage", "a:", ":abc", "a:!!!"])).toBe(false);
  });

  it.each([
    ["no-colon", "name:"],
    ["k:abc=", "bytes"],
    ["k:@@@@", "base64"],
    ["bad name:AAAA", "invalid name"],
  ])("rejects malformed key %j", (text, reason) => {
    expect(() => parsePublicKey(text)).toThrow(KeyFormatError);
    expect(() => parsePublicKey(text)).toThrow(reason);
  });

  it("rejects a secret key whose public half does not match its seed", () => {
    const k = generateSecretKey("k");
    const other = generateSecretKey("k");
    const bad = `k:${Buffer.concat([k.seed, other.publicKey]).toString("base64")}`;
    expect(() => parseSecretKey(bad)).toThrow(/corrupt/);
  });
});

describe("key names, files and strict parsing (issue 9)", () => {
  it("refuses a key name Nix cannot carry or no file can hold, before any work", () => {
    expect(() => generateSecretKey("x".repeat(300))).toThrow(KeyFormatError);
    expect(() => generateSecretKey("x".repeat(300))).toThrow(/longer than 128/);
    expect(generateSecretKey("x".repeat(128)).name).toHaveLength(128);
    for (const bad of ["a:b", "", "a b", "a\nb", "ä"]) expect(() => generateSecretKey(bad), bad).toThrow(KeyFormatError);
  });

  it("refuses non-canonical base64 in a key (junk padding, base64url, missing padding)", () => {
    // 0xfb bytes encode as "+/v7…": the key uses both characters base64url replaces.
    const b64 = Buffer.alloc(32, 0xfb).toString("base64");
    const k = `k:${b64}`;
    expect(parsePublicKey(k).name).toBe("k");
    expect(() => parsePublicKey(`k:${b64.replace(/=$/, "")}`)).toThrow(KeyFormatError);
    expect(() => parsePublicKey(`k:${b64.replaceAll("+", "-").replaceAll("/", "_")}`)).toThrow(KeyFormatError);
    // The last character before '=' carries 2 unused bits: setting them must not decode to the same key.
    const last = b64.charAt(42);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const tweaked = alphabet.charAt(alphabet.indexOf(last) ^ 1);
    expect(() => parsePublicKey(`k:${b64.slice(0, 42)}${tweaked}=`)).toThrow(KeyFormatError);
  });

  it("gives one-line errors that do not echo a huge or multi-line name raw", () => {
    const err = (() => {
      try {
        parsePublicKey(`${"a\n".repeat(1000)}:AAAA`);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(KeyFormatError);
    expect(err?.message).not.toMatch(/\n/);
    expect(err?.message.length).toBeLessThan(300);
  });
});

describe("writing a key pair (issue 9)", () => {
  it("refuses a secret file in a missing directory with a typed error, writing nothing", async () => {
    const { writeKeyPair } = await import("../../src/nix/index.js");
    const { mkdtemp, readdir, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { isOscdError } = await import("../../src/core/errors.js");
    const dir = await mkdtemp(join(tmpdir(), "oscd-keys-"));
    try {
      const k = generateSecretKey("k");
      const err = await writeKeyPair(k, join(dir, "missing", "k.secret"), join(dir, "k.public")).catch((e: unknown) => e);
      expect(isOscdError(err)).toBe(true);
      expect((err as { code: string }).code).toBe("key-write");
      expect((err as Error).message).toMatch(/missing.*does not exist/);
      const err2 = await writeKeyPair(k, join(dir, "k.secret"), join(dir, "nope", "k.public")).catch((e: unknown) => e);
      expect(isOscdError(err2)).toBe(true);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("removes the secret key it wrote when the public key cannot be written (no orphan secret)", async () => {
    const { writeKeyPair } = await import("../../src/nix/index.js");
    const { mkdtemp, readdir, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { isOscdError } = await import("../../src/core/errors.js");
    const dir = await mkdtemp(join(tmpdir(), "oscd-keys-"));
    try {
      // A file name longer than NAME_MAX passes every check and fails only at the write.
      const err = await writeKeyPair(generateSecretKey("k"), join(dir, "k.secret"), join(dir, `${"p".repeat(300)}.public`)).catch((e: unknown) => e);
      expect(isOscdError(err)).toBe(true);
      expect((err as { code: string }).code).toBe("key-write");
      expect((err as Error).message).toMatch(/ENAMETOOLONG/);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
