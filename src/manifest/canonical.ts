/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, strings and
 * numbers written as ECMAScript's JSON.stringify writes them. For the values a manifest
 * holds (strings, safe integers, booleans, null, arrays, plain objects) this is the JSON
 * Canonicalization Scheme of RFC 8785, so other languages can reproduce the signed bytes.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, "$");
}

function encode(v: unknown, where: string): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return v ? "true" : "false";
    case "number":
      if (!Number.isFinite(v)) throw new TypeError(`canonical JSON: ${where} is ${v}, which JSON cannot hold`);
      return JSON.stringify(v);
    case "object": {
      if (Array.isArray(v)) return `[${v.map((x, i) => encode(x, `${where}[${i}]`)).join(",")}]`;
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new TypeError(`canonical JSON: ${where} is not a plain object`);
      const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
      // Default sort compares UTF-16 code units, which is what RFC 8785 asks for.
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${encode(x, `${where}.${k}`)}`).join(",")}}`;
    }
    default:
      throw new TypeError(`canonical JSON: ${where} is a ${typeof v}, which JSON cannot hold`);
  }
}
