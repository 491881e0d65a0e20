import { expect } from "vitest";
import { isOscdError } from "../../../src/core/errors.js";

/**
 * A small, dependency-free fuzzer: a seeded PRNG (so every run makes the same inputs and a
 * failure names the seed that reproduces it) and mutations of valid fixtures: bit flips,
 * truncations, duplicated and deleted lines, odd unicode, wrong types, huge numbers and
 * deep nesting. `checkParser` runs a parser over the inputs and collects every failure that
 * is not a typed one-line OscdError.
 */

export type Rng = () => number;

/** mulberry32: tiny, fast, good enough to pick mutations. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const int = (r: Rng, n: number): number => Math.floor(r() * n);
export function pick<T>(r: Rng, items: readonly T[]): T {
  return items[int(r, items.length)] as T;
}

/** Characters parsers and messages get wrong: controls, line separators, lone surrogates, BOM, RTL, quotes. */
export const ODD = [
  "\u0000", "\u0007", "\u001b", "\r", "\n", "\r\n", "\t", "\u007f", "\u0085", "\u2028", "\u2029",
  "\ud800", "\udfff", "\ufeff", "\u202e", "\u0301", "\uffff", "😀", "é", "ß", "\\", "\"", "'",
  "=", "[", "]", "{", "}", ":", ",", ".", "#", " ", "..", "/", "__proto__", "constructor", "toString",
];

export const HUGE_NUMBERS = ["9007199254740993", "99999999999999999999999999", "-9223372036854775809", "1e400", "-1e400", "1e-400", "-0", "0x7fffffffffffffff", "1_000_000", "nan", "inf", "-inf", "1.7976931348623157e308"];

function flipBit(r: Rng, s: string): string {
  const b = Buffer.from(s, "utf8");
  if (b.length === 0) return s;
  const i = int(r, b.length);
  b[i] = (b[i] ?? 0) ^ (1 << int(r, 8));
  // As a file read with "utf8" would be: invalid sequences become U+FFFD.
  return new TextDecoder("utf-8").decode(b);
}

function lines(s: string): string[] {
  return s.split("\n");
}

const textOps: ((r: Rng, s: string, extras: readonly string[]) => string)[] = [
  (r, s) => flipBit(r, s),
  (r, s) => s.slice(0, int(r, s.length + 1)),
  (r, s) => {
    const l = lines(s);
    const i = int(r, l.length);
    l.splice(i, 0, l[i] ?? "");
    return l.join("\n");
  },
  (r, s) => {
    const l = lines(s);
    l.splice(int(r, l.length), 1);
    return l.join("\n");
  },
  (r, s) => {
    const i = int(r, s.length + 1);
    return s.slice(0, i) + pick(r, ODD) + s.slice(i);
  },
  (r, s) => {
    const l = lines(s);
    const i = int(r, l.length);
    const j = int(r, l.length);
    [l[i], l[j]] = [l[j] ?? "", l[i] ?? ""];
    return l.join("\n");
  },
  (r, s, extras) => {
    if (extras.length === 0) return s;
    const l = lines(s);
    l.splice(int(r, l.length + 1), 0, pick(r, extras));
    return l.join("\n");
  },
  (r, s) => {
    const i = int(r, s.length);
    const chunk = s.slice(i, i + 1 + int(r, 20));
    return s.slice(0, i) + chunk.repeat(2 + int(r, 50)) + s.slice(i);
  },
  (r, s) => {
    const i = int(r, s.length + 1);
    return s.slice(0, i) + pick(r, HUGE_NUMBERS) + s.slice(i);
  },
];

/** One to three text mutations; `extras` are whole lines worth splicing in (format-specific). */
export function mutateText(r: Rng, text: string, extras: readonly string[] = []): string {
  let s = text;
  const n = 1 + int(r, 3);
  for (let k = 0; k < n; k++) s = pick(r, textOps)(r, s, extras);
  return s;
}

/** TOML values of every type, odd and huge ones included, for `key = value` lines. */
export const TOML_VALUES = [
  "1", "-1", "0", "true", "false", '""', '"x"', "'lit'", '"""multi\nline"""', "[]", "[1, \"a\"]", "[[1], [2]]", "{}", "{ a = 1 }",
  "1979-05-27T07:32:00Z", "1979-05-27", "07:32:00", ...HUGE_NUMBERS, '"\\u0000"', '"a\\nb"', '"\\ud800"', '"😀"', '"__proto__"', '"../../etc"',
];

/** Replaces the value of a random `key = value` line with another TOML value. */
export function retypeTomlLine(r: Rng, text: string): string {
  const l = lines(text);
  const candidates = l.map((x, i) => [x, i] as const).filter(([x]) => /^\s*[^#[].*=/.test(x));
  if (candidates.length === 0) return text;
  const [line, i] = pick(r, candidates);
  l[i] = `${line.slice(0, line.indexOf("=") + 1)} ${pick(r, TOML_VALUES)}`;
  return l.join("\n");
}

/** Deeply nested TOML, in the three forms TOML has: arrays, inline tables, dotted keys. */
export function deepToml(r: Rng, key: string): string {
  const n = pick(r, [40, 400, 4000]);
  switch (int(r, 3)) {
    case 0:
      return `${key} = ${"[".repeat(n)}${"]".repeat(n)}`;
    case 1:
      return `${key} = ${"{ a = ".repeat(n)}1${" }".repeat(n)}`;
    default:
      // smol-toml takes ~20 ms for 5000 dotted parts; 400 already exceeds any depth oscd allows.
      return `${key}.${Array.from({ length: Math.min(n, 400) }, () => "a").join(".")} = 1`;
  }
}

/** JSON values of every type, for structural mutations of a parsed document. */
export function randomJsonValue(r: Rng, depth = 0): unknown {
  switch (int(r, depth > 2 ? 6 : 9)) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return pick(r, [0, -1, 1.5, 2 ** 53 + 2, -(2 ** 63), 1e308, Number.MIN_VALUE, 42]);
    case 3:
      return pick(r, ODD) + pick(r, ["", "x", "main", "closed", "release:minor"]) + pick(r, ODD);
    case 4:
      return "x".repeat(int(r, 3) === 0 ? 100_000 : 10);
    case 5:
      return pick(r, ["closed", "main", "example-org/fleet", "9f1c2e3d4b5a69788796a5b4c3d2e1f0a9b8c7d6", ""]);
    case 6:
      return Array.from({ length: int(r, 4) }, () => randomJsonValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let k = int(r, 4); k > 0; k--) Object.defineProperty(o, pick(r, ["name", "ref", "__proto__", "constructor", "a\nb", "full_name"]), { value: randomJsonValue(r, depth + 1), enumerable: true, configurable: true, writable: true });
      return o;
    }
  }
}

/** Replaces, deletes or adds one node somewhere in a parsed JSON document (in place). */
export function mutateJson(r: Rng, doc: unknown): unknown {
  if (doc === null || typeof doc !== "object" || int(r, 8) === 0) return randomJsonValue(r);
  const node = doc as Record<string, unknown>;
  const keys = Object.keys(node);
  const key = keys.length > 0 ? pick(r, keys) : "x";
  const op = int(r, 4);
  if (op === 0) delete node[key];
  else if (op === 1) node[key] = randomJsonValue(r);
  else if (op === 2) Object.defineProperty(node, pick(r, ["__proto__", "constructor", "toString", "x\u2028y"]), { value: randomJsonValue(r), enumerable: true, configurable: true, writable: true });
  else node[key] = mutateJson(r, node[key]);
  return doc;
}

/** `{"a":` nested n deep, or `[` n deep: what recursive parsers and validators choke on. */
export function deepJson(r: Rng): string {
  const n = pick(r, [1000, 10000, 100000]);
  return r() < 0.5 ? `${'{"pull_request":'.repeat(n)}1${"}".repeat(n)}` : `${"[".repeat(n)}${"]".repeat(n)}`;
}

/** A one-line message: no line feed, carriage return or Unicode line/paragraph separator. */
export function isOneLine(message: string): boolean {
  return !/[\n\r\u2028\u2029\u0085]/.test(message);
}

export interface FuzzFailure {
  input: string;
  error: string;
}

/**
 * Runs `parse` on every input; returns each input whose failure was not a typed OscdError
 * with a one-line message (or whose success `accept` refused), previewed for the report.
 */
export function fuzzFailures(inputs: Iterable<string>, parse: (text: string) => unknown, accept: (result: unknown) => boolean = () => true): FuzzFailure[] {
  const failures: FuzzFailure[] = [];
  for (const input of inputs) {
    let result: unknown;
    try {
      result = parse(input);
    } catch (e) {
      if (isOscdError(e) && isOneLine(e.message) && isOneLine(e.hint ?? "")) continue;
      const error = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
      failures.push({ input: JSON.stringify(input.slice(0, 300)), error: JSON.stringify(error.slice(0, 300)) });
      continue;
    }
    if (!accept(result)) failures.push({ input: JSON.stringify(input.slice(0, 300)), error: "parsed, but the result was refused by the test" });
  }
  return failures;
}

/** Asserts no failures, showing the first few (inputs are reproducible from the seed). */
export function expectNoFailures(failures: readonly FuzzFailure[], total: number): void {
  expect(failures.slice(0, 5), `${failures.length} of ${total} inputs failed untyped`).toEqual([]);
}

/** `count` mutated inputs from `seed`: text mutations, plus `extra(r)` for format-aware ones. */
export function* mutants(seed: number, count: number, fixtures: readonly string[], extras: readonly string[], extra?: (r: Rng, base: string) => string): Generator<string> {
  const r = rng(seed);
  for (let k = 0; k < count; k++) {
    const base = pick(r, fixtures);
    yield extra !== undefined && r() < 0.4 ? extra(r, base) : mutateText(r, base, extras);
  }
}
