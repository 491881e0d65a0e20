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
    ["k:abc", "bytes"],
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
