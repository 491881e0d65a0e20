import { describe, expect, it } from "vitest";
import { OscdError } from "../../../src/core/errors.js";
import { generateSecretKey, publicKeyOf } from "../../../src/nix/index.js";
import { manifestSigningBytes, readTrustedManifest, serializeManifest, signManifest, type ManifestBody } from "../../../src/manifest/index.js";

/**
 * Fuzzing the manifest reader: thousands of mutations of a valid signed manifest (byte flips,
 * truncations, duplicated keys, odd Unicode, huge numbers, deep nesting, structural edits).
 * Every refusal must be a typed OscdError on one line; anything accepted must say exactly what
 * was signed. A seeded PRNG keeps it reproducible: a failure prints its seed and input.
 */
const SEED = 0x05cd_2026;
const RUNS = 4000;

/** mulberry32: small, fast, good enough to drive mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const key = generateSecretKey("fleet-fuzz");
const pub = publicKeyOf(key);
const body: ManifestBody = {
  schema: "oscd.manifest/v1",
  channel: "main",
  sequence: 12,
  version: "2.3.4",
  commit: "0123456789abcdef0123456789abcdef01234567",
  ref: "v2.3.4",
  createdAt: "2026-01-02T03:04:05.000Z",
  hosts: {
    web1: { toplevel: "/nix/store/00000000000000000000000000000000-nixos-system-web1-2.3.4", system: "x86_64-linux" },
    db1: { toplevel: "/nix/store/11111111111111111111111111111111-nixos-system-db1-2.3.4", system: "aarch64-linux" },
  },
  caches: ["https://cache.example.org"],
};
const original = signManifest(body, key);
const text = serializeManifest(original);
const signedBytes = manifestSigningBytes(original);

const ODD = ["\ud800", "\udfff", "\u2028", "\u2029", "\ufeff", "\u0000", "\u001f", "\u007f", "\u200b", "é", "😀", "\\ud800", "\\u0000", "\\", '"', "\n", "{", "}", "[", "]", ",", ":", "0", "-", "e"];
const HUGE = ["1e400", "-1e400", "9007199254740993", "9007199254740991", "1.5", "-0", "0.0", "1e2", "00012", "123456789012345678901234567890"];

/** The text as an object when an earlier mutation left it JSON. */
function asObject(s: string): Record<string, unknown> | undefined {
  try {
    if ((s.match(/\[/g) ?? []).length > 100) return undefined; // too deep for the test's own JSON.stringify
    const v: unknown = JSON.parse(s);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function mutate(r: () => number, s: string): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const at = () => Math.floor(r() * (s.length + 1));
  switch (Math.floor(r() * 10)) {
    case 0: {
      // flip one character's bits
      const i = Math.min(at(), s.length - 1);
      return s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << Math.floor(r() * 16))) + s.slice(i + 1);
    }
    case 1:
      return s.slice(0, at());
    case 2: {
      // duplicate one line (a key given twice)
      const lines = s.split("\n");
      const i = Math.floor(r() * lines.length);
      lines.splice(i, 0, lines[i] as string);
      return lines.join("\n");
    }
    case 3: {
      const i = at();
      return s.slice(0, i) + pick(ODD) + s.slice(i);
    }
    case 4:
      return s.replace(/\b\d+\b/, pick(HUGE));
    case 5: {
      const depth = 1 + Math.floor(r() * 5000);
      return s.replace('"sequence": 12', `"sequence": ${"[".repeat(depth)}12${"]".repeat(depth)}`);
    }
    case 6: {
      // structural: change or drop a field, or add one
      const o = asObject(s);
      if (!o) return s + "x";
      const keys = Object.keys(o);
      const k = pick(keys);
      const choice = Math.floor(r() * 4);
      if (choice === 0) delete o[k];
      else if (choice === 1) o[k] = pick<unknown>([null, 0, -1, true, "", [], {}, "x".repeat(1000), 2 ** 53, { toplevel: "/tmp/x" }]);
      else if (choice === 2) o[pick(["__proto__", "constructor", "extra", "expiresAt", "signatures\n"])] = pick<unknown>([1, "2099-01-01T00:00:00Z", {}]);
      else o.hosts = { ...(o.hosts as object), [pick(["web1", "we.b1", "__proto__", "a\nb", "x".repeat(300)])]: { toplevel: body.hosts.db1?.toplevel, system: "x86_64-linux" } };
      return JSON.stringify(o, null, pick([0, 2]));
    }
    case 7: {
      // swap two slices
      const a = at();
      const b = at();
      const [i, j] = a < b ? [a, b] : [b, a];
      return s.slice(j) + s.slice(i, j) + s.slice(0, i);
    }
    case 8: {
      // signature games: drop, duplicate, rename, base64 variants
      const o = asObject(s) as { signatures?: unknown } | undefined;
      const sig = Array.isArray(o?.signatures) && typeof o.signatures[0] === "string" ? o.signatures[0] : undefined;
      if (!o || sig === undefined) return s.slice(1);
      o.signatures = pick([
        [],
        [sig, sig],
        [sig.replace("fleet-fuzz", "fleet-fuzz2")],
        [sig.replace(/=+$/, "")],
        [sig.replace(/\+/g, "-").replace(/\//g, "_")],
        [`${sig.slice(0, 20)}*${sig.slice(20)}`],
        [`x:${sig}`],
        Array.from({ length: 50 }, () => sig),
        [sig.toUpperCase()],
      ]);
      return JSON.stringify(o);
    }
    default: {
      // several small edits at once
      let t = s;
      for (let n = 0; n < 3; n++) t = mutate(r, t);
      return t;
    }
  }
}

describe("manifest reader fuzz", () => {
  it(`refuses every mutation of a signed manifest with a typed one-line error, or verifies the signed content itself (${RUNS} inputs, seed ${SEED})`, () => {
    const r = prng(SEED);
    let accepted = 0;
    const codes = new Map<string, number>();
    for (let run = 0; run < RUNS; run++) {
      const input = mutate(r, text);
      const where = `run ${run} (seed ${SEED})`;
      try {
        const { manifest } = readTrustedManifest(input, [pub], "m.json");
        // Accepted: it must be exactly what was signed (reformatting is fine, content is not).
        expect(manifestSigningBytes(manifest), `${where}: ${JSON.stringify(input)}`).toBe(signedBytes);
        accepted++;
      } catch (e) {
        if (!(e instanceof OscdError)) throw new Error(`${where}: untyped ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} for ${JSON.stringify(input).slice(0, 500)}`);
        expect(e.message, `${where}: ${JSON.stringify(e.message)}`).not.toMatch(/[\n\r\u0085\u2028\u2029]/);
        expect(["manifest-format", "manifest-untrusted"], where).toContain(e.code);
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
    }
    // The mutations reach both the parser and the signature check.
    expect(codes.get("manifest-format") ?? 0).toBeGreaterThan(RUNS / 4);
    expect(codes.get("manifest-untrusted") ?? 0).toBeGreaterThan(RUNS / 50);
    expect(accepted).toBeLessThan(RUNS / 2);
  });
});
