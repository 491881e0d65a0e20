import { describe, expect, it } from "vitest";
import { decodeNixBase32, formatNarInfo, generateSecretKey, narInfoFingerprint, parseNarInfo, publicKeyOf, signNarInfo, verifyNarInfo, NarInfoFormatError } from "../../src/nix/index.js";

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

describe("narinfo strictness (issue 9)", () => {
  it("refuses a field given twice, so no reader can see another value than the one signed", () => {
    expect(() => parseNarInfo(TEXT + "StorePath: /nix/store/21agrl60368ga22b3s23kmf5bi9ha3vn-y\n")).toThrow(/StorePath.*more than once/);
    expect(() => parseNarInfo(TEXT + "NarHash: sha256:0000000000000000000000000000000000000000000000000000\n")).toThrow(NarInfoFormatError);
    // Several signatures are normal.
    expect(parseNarInfo(TEXT + "Sig: a:AAAA\nSig: b:BBBB\n").sigs).toEqual(["a:AAAA", "b:BBBB"]);
  });

  it.each([
    ["FileSize: 180", "FileSize: 1e3"],
    ["FileSize: 180", "FileSize: -1"],
    ["NarSize: 456", "NarSize: 0x10"],
    ["NarSize: 456", "NarSize: 99999999999999999999"],
    ["NarHash: sha256:09lyip90d3f7nlw4cznbydbkf6khzv8j0dsk0iwh9f00rrh68sqr", "NarHash: md5:abc"],
    ["References: 5clznwb8h5c67fv278ck73l9qigdaf0n-x", "References: ../../etc/passwd"],
  ])("refuses %j replaced by %j with a typed error", (from, to) => {
    expect(() => parseNarInfo(TEXT.replace(from, to))).toThrow(NarInfoFormatError);
  });

  it("keeps errors to one line for a line with control characters", () => {
    const err = (() => {
      try {
        parseNarInfo("junk\r\u0000\u2028line");
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(NarInfoFormatError);
    expect(err?.message).not.toMatch(/[\r\n\u2028]/);
  });

  it("names the line of what is wrong, never its content (a narinfo may be any file put in its place)", () => {
    const cases: [string, RegExp][] = [
      [`StorePath: /nix/store/5clznwb8h5c67fv278ck73l9qigdaf0n-x\nroot:$6$SECRET-hash:19000\n`, /^narinfo line 2: is not "key: value"$/],
      [TEXT.replace("NarSize: 456", "NarSize: SECRET"), /^narinfo line \d+: NarSize is not a size$/],
      [TEXT + "SECRET-key: a\nSECRET-key: b\n", /^narinfo line \d+: gives a field more than once$/],
      [TEXT.replace(/NarHash: .*/, "NarHash: sha256:SECRET"), /^narinfo line \d+: NarHash is not a sha256 hash$/],
      [TEXT.replace(/References: .*/, "References: SECRET/../x"), /^narinfo line \d+: a reference is not the base name of a store path$/],
    ];
    for (const [text, message] of cases) {
      let err: unknown;
      try {
        parseNarInfo(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NarInfoFormatError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain("SECRET");
    }
  });
});

describe("narinfo NarHash in the forms Nix reads", () => {
  it("an SRI or hex NarHash (other cache servers) reads as the sha256:<nix32> Nix signs, so the signature still verifies", () => {
    const k = generateSecretKey("cache-1");
    const signed = signNarInfo(parseNarInfo(TEXT), k);
    const digest = Buffer.from(nixBase32Decode("09lyip90d3f7nlw4cznbydbkf6khzv8j0dsk0iwh9f00rrh68sqr"));
    for (const form of [`sha256-${digest.toString("base64")}`, `sha256:${digest.toString("hex")}`]) {
      const other = parseNarInfo(formatNarInfo(signed).replace(/^NarHash: .*$/m, `NarHash: ${form}`));
      expect(other.narHash).toBe("sha256:09lyip90d3f7nlw4cznbydbkf6khzv8j0dsk0iwh9f00rrh68sqr");
      expect(verifyNarInfo(other, [publicKeyOf(k)])).toBe(true);
    }
    expect(() => parseNarInfo(TEXT.replace(/^NarHash: .*$/m, `NarHash: sha512-${Buffer.alloc(64).toString("base64")}`))).toThrow(NarInfoFormatError);
  });
});

function nixBase32Decode(s: string): Buffer {
  return decodeNixBase32(s, 32) as Buffer;
}
