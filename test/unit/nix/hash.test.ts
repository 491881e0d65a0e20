import { describe, expect, it } from "vitest";
import { decodeNixBase32, nixBase32, parseNixHash, toNix32, toSri } from "../../../src/nix/index.js";

const SRI = "sha256-4FKTnTOFhFjxB8KaaubkbtRc3eGyWI5gt9gtvPBI/Rc=";
const NIX32 = "sha256:05zx93qbqbfqnxh8wn5jw7fmrm3fwkk6m6n20zqmi1456ffr6lp0";
const HEX = Buffer.from(SRI.slice(7), "base64").toString("hex");

describe("hashes in every form Nix prints", () => {
  it("SRI, sha256:<nix32>, sha256:<hex>, sha256:<base64> and the structured object are the same hash", () => {
    for (const form of [SRI, NIX32, `sha256:${HEX}`, `sha256:${SRI.slice(7)}`, { algorithm: "sha256", format: "base16", hash: HEX }, { algorithm: "sha256", format: "nix32", hash: NIX32.slice(7) }]) {
      const h = parseNixHash(form);
      expect(h && toSri(h), JSON.stringify(form)).toBe(SRI);
      expect(h && toNix32(h)).toBe(NIX32);
    }
  });

  it("Nix's base-32 decodes what it encodes, and refuses what it cannot be", () => {
    for (let n = 0; n < 50; n++) {
      const bytes = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + n * 11) & 0xff));
      expect(decodeNixBase32(nixBase32(bytes), 32)).toEqual(bytes);
    }
    expect(decodeNixBase32("e".repeat(52), 32)).toBeUndefined();
    expect(decodeNixBase32("0".repeat(51), 32)).toBeUndefined();
    // 52 characters carry 260 bits: the top 4 must be zero.
    expect(decodeNixBase32("z" + "0".repeat(51), 32)).toBeUndefined();
  });

  it("refuses what is no hash", () => {
    for (const bad of ["", "sha256-", "sha256-abc", "md5-xyz", "sha256:xyz", "blake9-AAAA", 42, null, [], { algorithm: "sha256", hash: "zz" }]) {
      expect(parseNixHash(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });
});
