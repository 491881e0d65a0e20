import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../../src/manifest/index.js";

describe("canonical JSON", () => {
  it("sorts keys at every level and writes no whitespace", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: "x" } })).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
  });

  it("orders keys by UTF-16 code units, as RFC 8785 does", () => {
    // The RFC's own ordering example: "\r" < "1" < "\u0080" < "ö" < "€" < "😀" < "\ufb33".
    const value = { "\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis" };
    // (Object.keys would list "1" first whatever the text says, so read the text itself.)
    const text = canonicalJson(value);
    const order = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\ud83d\ude00", "\ufb33"].map((k) => text.indexOf(JSON.stringify(k) + ":"));
    expect(order.every((p) => p >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(text.startsWith('{"\\r":"Carriage Return","1":"One",')).toBe(true);
  });

  it("writes strings and numbers as JSON.stringify does, and drops undefined members", () => {
    expect(canonicalJson({ s: 'a"b\\c\n\u0001é', n: 10, f: 1.5, neg: -0, u: undefined })).toBe('{"f":1.5,"n":10,"neg":0,"s":"a\\"b\\\\c\\n\\u0001é"}');
  });

  it("is the same for the same data however it was built", () => {
    const a = canonicalJson(JSON.parse('{ "x": 1, "y": [ 1, 2 ], "z": { "b": 2, "a": 1 } }'));
    const b = canonicalJson({ z: { a: 1, b: 2 }, y: [1, 2], x: 1 });
    expect(a).toBe(b);
  });

  it("refuses values JSON cannot hold", () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/\$\.n is NaN/);
    expect(() => canonicalJson({ n: Infinity })).toThrow(/JSON cannot hold/);
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(/not a plain object/);
    expect(() => canonicalJson([() => 1])).toThrow(/function/);
  });
});
