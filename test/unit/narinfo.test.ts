import { describe, expect, it } from "vitest";
import { formatNarInfo, generateSecretKey, narInfoFingerprint, parseNarInfo, publicKeyOf, signNarInfo, verifyNarInfo, NarInfoFormatError } from "../../src/nix/index.js";

const TEXT = `StorePath: /nix/store/5clznwb8h5c67fv278ck73l9qigdaf0n-x
URL: nar/06456zlqd7bwk4d8lv5n5qqiznf0xx6bgd5fwbns3a4544s91n9b.nar.xz
Compression: xz
FileHash: sha256:06456zlqd7bwk4d8lv5n5qqiznf0xx6bgd5fwbns3a4544s91n9b
FileSize: 180
NarHash: sha256:09lyip90d3f7nlw4cznbydbkf6khzv8j0dsk0iwh9f00rrh68sqr
NarSize: 456
References: 5clznwb8h5c67fv278ck73l9qigdaf0n-x 21agrl60368ga22b3s23kmf5bi9ha3vn-y
Deriver: p56hxq7bwjhblhag82a6d48dbc5320sn-x.drv
`;

describe("narinfo", () => {
  it("parses and formats back the same text", () => {
    expect(formatNarInfo(parseNarInfo(TEXT))).toBe(TEXT);
  });

  it("computes Nix's fingerprint with sorted full reference paths", () => {
    expect(narInfoFingerprint(parseNarInfo(TEXT))).toBe(
      "1;/nix/store/5clznwb8h5c67fv278ck73l9qigdaf0n-x;sha256:09lyip90d3f7nlw4cznbydbkf6khzv8j0dsk0iwh9f00rrh68sqr;456;" +
        "/nix/store/21agrl60368ga22b3s23kmf5bi9ha3vn-y,/nix/store/5clznwb8h5c67fv278ck73l9qigdaf0n-x",
    );
  });

  it("signs, verifies, and fails when a signed field changes", () => {
    const k = generateSecretKey("cache-1");
    const signed = signNarInfo(parseNarInfo(TEXT), k);
    expect(verifyNarInfo(signed, [publicKeyOf(k)])).toBe(true);
    expect(verifyNarInfo({ ...signed, narSize: 457 }, [publicKeyOf(k)])).toBe(false);
    expect(verifyNarInfo(parseNarInfo(formatNarInfo(signed)), [publicKeyOf(k)])).toBe(true);
  });

  it("names the missing field of a damaged narinfo", () => {
    expect(() => parseNarInfo("StorePath: /nix/store/5clznwb8h5c67fv278ck73l9qigdaf0n-x\n")).toThrow(NarInfoFormatError);
    expect(() => parseNarInfo(TEXT.replace(/NarHash.*\n/, ""))).toThrow(/NarHash/);
    expect(() => parseNarInfo("garbage line")).toThrow(/key: value/);
  });
});
