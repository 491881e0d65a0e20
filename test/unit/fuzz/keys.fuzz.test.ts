import { createPrivateKey, createPublicKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { formatPublicKey, formatSecretKey, generateSecretKey, parsePublicKey, parseSecretKey, publicKeyOf, signDetached, signerOf, type SecretKey } from "../../../src/nix/index.js";
import { expectNoFailures, fuzzFailures, int, mutants, pick, rng, type Rng } from "./mutate.js";

/** A key made from the PRNG, so the inputs are the same on every run. */
function seededKey(r: Rng, name: string): SecretKey {
  const seed = Buffer.from(Array.from({ length: 32 }, () => int(r, 256)));
  // PKCS#8 prefix of a raw ed25519 seed (RFC 8410).
  const priv = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]), format: "der", type: "pkcs8" });
  const x = createPublicKey(priv).export({ format: "jwk" }).x ?? "";
  return { name, seed, publicKey: Buffer.from(x, "base64url") };
}

const r0 = rng(3000);
const KEYS = [seededKey(r0, "fleet-1"), seededKey(r0, "cache.example.org-1"), seededKey(r0, "a")];
const SECRETS = KEYS.map(formatSecretKey);
const PUBLICS = KEYS.map((k) => formatPublicKey(publicKeyOf(k)));
const EXTRAS = ["", ":", "k:", ":AAAA", "k:====", "k:AAAA=", "k:-_-_", `${"n".repeat(200)}:AAAA`];

describe("fuzz: Nix keys", () => {
  it("fails only with a typed one-line error on 3000 mutated public and 3000 mutated secret keys (seed 3001)", () => {
    const pub = [...mutants(3001, 3000, [...PUBLICS, ...PUBLICS.map((p) => `${p}\n`)], EXTRAS)];
    const sec = [...mutants(3002, 3000, [...SECRETS, ...SECRETS.map((s) => `${s}\n`)], EXTRAS)];
    expectNoFailures(fuzzFailures(pub, parsePublicKey), pub.length);
    expectNoFailures(fuzzFailures(sec, parseSecretKey), sec.length);
  });

  it("never throws while checking 2000 mutated signatures, and accepts none that changed (seed 3003)", () => {
    const k = KEYS[0] as SecretKey;
    const good = signDetached(k, "data");
    const sigs = [...mutants(3003, 2000, [good], EXTRAS)].filter((s) => s !== good);
    const failures = fuzzFailures(sigs, (s) => signerOf([publicKeyOf(k)], "data", s), (signer) => signer === undefined);
    expectNoFailures(failures, sigs.length);
  });

  it("round-trips 300 generated valid keys with random valid names (seed 3004)", () => {
    const r = rng(3004);
    const chars = [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-"];
    for (let n = 0; n < 300; n++) {
      const name = Array.from({ length: 1 + int(r, 128) }, () => pick(r, chars)).join("");
      const k = n % 10 === 0 ? generateSecretKey(name) : seededKey(r, name);
      expect(parseSecretKey(formatSecretKey(k)).seed.equals(k.seed)).toBe(true);
      expect(formatPublicKey(parsePublicKey(formatPublicKey(publicKeyOf(k))))).toBe(formatPublicKey(publicKeyOf(k)));
    }
  });
});
