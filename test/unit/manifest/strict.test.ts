import { describe, expect, it } from "vitest";
import { OscdError } from "../../../src/core/errors.js";
import { generateSecretKey, publicKeyOf } from "../../../src/nix/index.js";
import { MAX_SIGNATURES, parseManifest, parseStrictJson, readTrustedManifest, serializeManifest, signManifest, verifyManifest, type ManifestBody } from "../../../src/manifest/index.js";
import { manifestBody, WEB1_TOPLEVEL } from "../../harness/manifest-body.js";

const key = generateSecretKey("fleet-1");
const pub = publicKeyOf(key);

function body(over: Partial<ManifestBody> = {}): ManifestBody {
  return manifestBody({ hosts: { web1: { toplevel: WEB1_TOPLEVEL, system: "x86_64-linux" } }, ...over });
}

const signed = () => serializeManifest(signManifest(body(), key));

/** The refusal parseManifest (or parse + verify) gives, or undefined when the text was accepted as signed. */
function refusal(text: string): OscdError | undefined {
  try {
    readTrustedManifest(text, [pub], "m.json");
    return undefined;
  } catch (e) {
    if (!(e instanceof OscdError)) throw e;
    return e;
  }
}

describe("strict manifest JSON", () => {
  it("refuses a key given twice: a reader taking the first would see forged fields under a good signature", () => {
    const forged = signed().replace('{\n  "schema"', '{\n  "version": "9.9.9-forged",\n  "schema"');
    expect(JSON.parse(forged)).toMatchObject({ version: "1.2.0" }); // JSON.parse keeps the last
    const e = refusal(forged);
    expect(e).toMatchObject({ code: "manifest-format", exitCode: 3 });
    expect(e?.message).toMatch(/^m\.json is not an oscd release manifest: not JSON \(duplicate key "version" at line 6, column 3\)$/);
    const inHosts = signed().replace('"web1": {', '"web1": {"system": "aarch64-linux", ');
    expect(refusal(inHosts)?.message).toMatch(/duplicate key "system"/);
  });

  it("refuses lone surrogates, escaped or raw, and accepts proper pairs", () => {
    for (const bad of ['"1.2.0\\ud800"', '"\\udc00x"', '"a\ud800b"', '"\\ud800\\u0041"']) {
      const text = signed().replace('"1.2.0"', bad);
      expect(refusal(text)?.message, bad).toMatch(/lone UTF-16 surrogate/);
    }
    expect(parseStrictJson('"\\ud83d\\ude00 \ud83d\ude00"')).toBe("😀 😀");
  });

  it("refuses lenient signature base64: junk characters, base64url, missing padding, stray bits", () => {
    // A signature with a '+' or '/' in it, so that its base64url spelling differs (about one in
    // 15 has neither; the key is new on every run).
    let m = signManifest(body(), key);
    for (let seq = 2; !/[+/]/.test(m.signatures[0] as string); seq++) m = signManifest(body({ sequence: seq }), key);
    const sig = m.signatures[0] as string;
    const b64 = sig.slice("fleet-1:".length);
    // Each variant decodes to the same 64 bytes with Buffer.from(…, "base64").
    const variants = [
      `fleet-1:${b64.slice(0, 10)}!${b64.slice(10)}`,
      `fleet-1:${b64.slice(0, 10)} ${b64.slice(10)}`,
      `fleet-1:${b64.replace(/\+/g, "-").replace(/\//g, "_")}`,
      `fleet-1:${b64.replace(/=+$/, "")}`,
    ];
    const last = b64[85] as string;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const stray = alphabet[alphabet.indexOf(last) + 1] as string; // same top 2 bits, other low bits
    variants.push(`fleet-1:${b64.slice(0, 85)}${stray}==`);
    for (const v of variants) {
      expect(v).not.toBe(sig);
      expect(Buffer.from(v.slice("fleet-1:".length), "base64")).toEqual(Buffer.from(b64, "base64"));
      expect(refusal(serializeManifest({ ...m, signatures: [v] })), v).toMatchObject({ code: "manifest-format" });
    }
    expect(refusal(serializeManifest(m))).toBeUndefined();
  });

  it(`checks at most ${MAX_SIGNATURES} signatures`, () => {
    const m = signManifest(body(), key);
    const many = serializeManifest({ ...m, signatures: [...Array.from({ length: MAX_SIGNATURES }, () => signManifest(body(), generateSecretKey("x")).signatures[0] as string), ...m.signatures] });
    expect(refusal(many)?.message).toMatch(/signatures: at most 8 signatures/);
    expect(() => verifyManifest({ ...m, signatures: Array.from({ length: 1000 }, () => m.signatures[0] as string) }, [pub])).toThrow(/at most 8 are checked/);
  });

  it("gives one-line errors: JSON syntax errors, and names from the input escaped", () => {
    for (const text of ["{\n  \"a\": }\n", "{\n", "[1,\n2", '"a\nb"', "{\"a\":1}\n\nx"]) {
      const e = refusal(text);
      expect(e, text).toMatchObject({ code: "manifest-format" });
      expect(e?.message, text).not.toMatch(/\n/);
      expect(e?.message).toMatch(/at line \d+, column \d+\)$/);
    }
    const m = signManifest(body(), key);
    const evil = `evil\nname:${(m.signatures[0] as string).slice("fleet-1:".length)}`;
    expect(() => verifyManifest({ ...m, signatures: [evil] }, [pub])).toThrow(/^the manifest is not signed by a trusted key: it is signed by "evil\\nname"; trusted: fleet-1$/);
    const unknownKey = signed().replace('{\n  "schema"', '{\n  "ev\\nil": 1,\n  "schema"');
    expect(refusal(unknownKey)?.message).toMatch(/unknown key\(s\) "ev\\nil"$/);
    const hostName = signed().replace('"web1": {', '"we\\nb1": {');
    expect(refusal(hostName)?.message).not.toMatch(/\n/);
    expect(() => parseManifest("{", "a\nb.json")).toThrow(/^"a\\nb.json" is not an oscd release manifest/);
  });

  it("bounds nesting and keeps __proto__ as data", () => {
    expect(() => parseStrictJson("[".repeat(100_000) + "]".repeat(100_000))).toThrow(/nested deeper than 32 levels/);
    const o = parseStrictJson('{"__proto__": {"polluted": 1}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.keys(o)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(() => parseStrictJson("1e400")).toThrow(/number out of range/);
    expect(parseStrictJson("[0, -1.5e3, true, false, null]")).toEqual([0, -1500, true, false, null]);
    for (const bad of ["01", "+1", ".5", "1.", "NaN", "'a'", "[1,]", '{"a":1,}', "\ufeff{}", '"\\x41"', '"\t"']) expect(() => parseStrictJson(bad), bad).toThrow();
  });
});
