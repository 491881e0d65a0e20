import { describe, expect, it } from "vitest";
import { formatPublicKey, generateSecretKey, parsePublicKey, publicKeyOf } from "../../../src/nix/index.js";
import {
  checkSequence,
  manifestSigningBytes,
  nextSequence,
  parseManifest,
  sameContent,
  serializeManifest,
  signManifest,
  verifyManifest,
  type ManifestBody,
} from "../../../src/manifest/index.js";
import { manifestBody } from "../../harness/manifest-body.js";

const key = generateSecretKey("fleet-1");
const other = generateSecretKey("fleet-2");
const pub = publicKeyOf(key);

function body(over: Partial<ManifestBody> = {}): ManifestBody {
  return manifestBody(over);
}

describe("manifest signing", () => {
  it("signs the canonical JSON of everything but the signatures, in Nix's name:base64 form", () => {
    const m = signManifest(body(), key);
    expect(m.signatures).toHaveLength(1);
    expect(m.signatures[0]).toMatch(/^fleet-1:[A-Za-z0-9+/]{86}==$/);
    expect(manifestSigningBytes(m)).toBe(manifestSigningBytes(body()));
    expect(manifestSigningBytes(m)).not.toContain("signatures");
    expect(manifestSigningBytes(m).startsWith('{"caches":["file:///srv/cache"],"channel":"main","commit":')).toBe(true);
    expect(verifyManifest(m, [pub]).name).toBe("fleet-1");
  });

  it("verifies after any reformatting of the file, and round-trips through serialize/parse", () => {
    const m = signManifest(body(), key);
    const text = serializeManifest(m);
    expect(text.endsWith("}\n")).toBe(true);
    const reparsed = parseManifest(text);
    expect(verifyManifest(reparsed, [pub]).name).toBe("fleet-1");
    const squashed = parseManifest(JSON.stringify(JSON.parse(text)));
    expect(verifyManifest(squashed, [pub]).name).toBe("fleet-1");
    // Keys in another order: same canonical bytes.
    const reordered = parseManifest(JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(text) as object).reverse())));
    expect(verifyManifest(reordered, [pub]).name).toBe("fleet-1");
  });

  it.each([
    ["a host's toplevel", (t: string) => t.replace("00000000000000000000000000000000-nixos-system-web1", "22222222222222222222222222222222-nixos-system-web1")],
    ["the sequence", (t: string) => t.replace('"sequence": 4', '"sequence": 40')],
    ["the commit", (t: string) => t.replace("a".repeat(40), "b".repeat(40))],
    ["a host's system", (t: string) => t.replace('"aarch64-linux"', '"x86_64-linux"')],
    ["the caches", (t: string) => t.replace("file:///srv/cache", "https://evil.example")],
  ])("refuses a manifest whose %s was edited after signing (exit 3)", (_what, edit) => {
    const text = serializeManifest(signManifest(body(), key));
    const edited = edit(text);
    expect(edited).not.toBe(text);
    const e = (() => {
      try {
        verifyManifest(parseManifest(edited), [pub], "main.json");
        return undefined;
      } catch (err) {
        return err as { code: string; exitCode: number; message: string };
      }
    })();
    expect(e?.code).toBe("manifest-untrusted");
    expect(e?.exitCode).toBe(3);
    expect(e?.message).toMatch(/main.json is not signed by a trusted key: the signature by fleet-1 does not match the content/);
  });

  it("refuses a removed host (an entry dropped after signing)", () => {
    const m = signManifest(body(), key);
    const { pi: _pi, ...rest } = m.hosts;
    expect(() => verifyManifest({ ...m, hosts: rest }, [pub])).toThrow(/does not match/);
  });

  it("names untrusted signers, missing signatures and an empty trust list", () => {
    const m = signManifest(body(), other);
    expect(() => verifyManifest(m, [pub])).toThrow(/signed by fleet-2; trusted: fleet-1/);
    expect(() => verifyManifest({ ...m, signatures: [] }, [pub])).toThrow(/no signatures/);
    expect(() => verifyManifest(m, [])).toThrow(/no trusted keys/);
    // A key with the trusted name but other bytes does not count.
    const impostor = generateSecretKey("fleet-1");
    expect(() => verifyManifest(signManifest(body(), impostor), [pub])).toThrow(/does not match/);
    expect(() => verifyManifest({ ...m, signatures: ["fleet-1:not-base64!"] }, [pub])).toThrow(/does not match/);
  });

  it("signs with several keys during a rotation; either key verifies", () => {
    const m = signManifest(body(), [key, other]);
    expect(m.signatures.map((s) => s.split(":")[0])).toEqual(["fleet-1", "fleet-2"]);
    expect(verifyManifest(m, [publicKeyOf(other)]).name).toBe("fleet-2");
    expect(verifyManifest(m, [parsePublicKey(formatPublicKey(pub))]).name).toBe("fleet-1");
  });
});

describe("manifest parsing", () => {
  it.each([
    ["not JSON", "{", /not JSON/],
    ["another schema", JSON.stringify({ ...signManifest(body(), key), schema: "oscd.manifest/v2" }), /schema/],
    ["a missing field", JSON.stringify({ ...signManifest(body(), key), commit: undefined }), /commit: Required/],
    ["an unknown field", JSON.stringify({ ...signManifest(body(), key), extra: 1 }), /unknown key\(s\) extra/],
    ["a toplevel that is no store path", JSON.stringify(signManifest(body(), key)).replace("/nix/store/00000000000000000000000000000000-nixos-system-web1-1.2.0", "/tmp/evil"), /hosts.web1.toplevel: not a Nix store path/],
    ["a sequence of 0", JSON.stringify({ ...signManifest(body(), key), sequence: 0 }), /sequence/],
    ["a fractional sequence", JSON.stringify({ ...signManifest(body(), key), sequence: 1.5 }), /sequence/],
    ["a short commit", JSON.stringify({ ...signManifest(body(), key), commit: "abc123" }), /commit/],
    ["a channel name with a dot", JSON.stringify({ ...signManifest(body(), key), channel: "main.1" }), /channel/],
  ])("refuses %s (exit 3)", (_what, text, re) => {
    expect(() => parseManifest(text, "x.json")).toThrow(re);
    try {
      parseManifest(text, "x.json");
    } catch (e) {
      expect((e as { code: string; exitCode: number }).code).toBe("manifest-format");
      expect((e as { exitCode: number }).exitCode).toBe(3);
    }
  });
});

describe("sequence checks", () => {
  it("accepts a higher sequence, and the very same manifest again", () => {
    expect(checkSequence(undefined, body({ sequence: 1 }))).toBe("newer");
    expect(checkSequence(body({ sequence: 4 }), body({ sequence: 5 }))).toBe("newer");
    expect(checkSequence(body({ sequence: 4 }), body({ sequence: 4, createdAt: "2025-02-02T00:00:00.000Z" }))).toBe("same");
  });

  it("refuses a sequence that went backwards, a reused sequence and another channel (exit 3)", () => {
    expect(() => checkSequence(body({ sequence: 4 }), body({ sequence: 3 }))).toThrow(/sequence went backwards \(3 after 4\)/);
    expect(() => checkSequence(body({ sequence: 4 }), body({ sequence: 4, commit: "c".repeat(40) }))).toThrow(/two different manifests carry sequence 4/);
    expect(() => checkSequence(body({ channel: "main" }), body({ channel: "testing", sequence: 9 }))).toThrow(/for channel testing, but the previous one is for main/);
    try {
      checkSequence(body({ sequence: 4 }), body({ sequence: 3 }));
    } catch (e) {
      expect((e as { code: string; exitCode: number }).code).toBe("manifest-sequence");
      expect((e as { exitCode: number }).exitCode).toBe(3);
    }
  });

  it("numbers from 1 and compares content without sequence, time and signatures", () => {
    expect(nextSequence(undefined)).toBe(1);
    expect(nextSequence(body({ sequence: 41 }))).toBe(42);
    expect(sameContent(body({ sequence: 1 }), body({ sequence: 9, createdAt: "2030-01-01T00:00:00Z" }))).toBe(true);
    expect(sameContent(body(), body({ hosts: {} }))).toBe(false);
    expect(sameContent(body(), body({ ref: "main" }))).toBe(false);
  });
});
