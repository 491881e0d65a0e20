import type { ZodIssue } from "zod";
import { quoteUntrusted } from "../nix/light.js";

/**
 * Turning what a parser found into one-line messages: keys and values from the file are
 * untrusted, so they are quoted and escaped (a key with a newline must not split the line).
 */

function segment(s: string | number): string {
  return typeof s === "number" || /^[A-Za-z0-9_-]+$/.test(s) ? String(s) : quoteUntrusted(s);
}

export function issuePath(path: readonly (string | number)[]): string {
  return path.length > 0 ? path.map(segment).join(".") : "(top level)";
}

export function describeIssue(i: ZodIssue): string {
  const where = issuePath(i.path);
  if (i.code === "unrecognized_keys") return `${where}: unknown key(s) ${i.keys.slice(0, 5).map((k) => quoteUntrusted(k)).join(", ")}`;
  // zod's own messages for these echo the value raw.
  if (i.code === "invalid_enum_value") return `${where}: expected one of ${i.options.map((o) => JSON.stringify(o)).join(", ")}, got ${quoteUntrusted(String(i.received))}`;
  if (i.code === "invalid_literal") return `${where}: expected ${JSON.stringify(i.expected)}`;
  return `${where}: ${i.message}`;
}

export function describeIssues(issues: readonly ZodIssue[]): string {
  return issues.slice(0, 3).map(describeIssue).join("; ");
}

/** Deeper than any fleet or machine file needs; deeper documents are refused, not walked. */
export const MAX_DEPTH = 32;

interface Node {
  value: unknown;
  key: string | number | undefined;
  parent: Node | undefined;
  depth: number;
}

function pathOf(n: Node): (string | number)[] {
  const path: (string | number)[] = [];
  for (let at: Node | undefined = n; at?.key !== undefined; at = at.parent) path.unshift(at.key);
  return path;
}

/**
 * What is wrong with the shape of parsed TOML before zod looks at it, or undefined: a
 * `__proto__` key (zod would assign it, and so set the prototype of the table it builds),
 * or nesting deeper than MAX_DEPTH.
 */
export function structureProblem(raw: unknown): string | undefined {
  const stack: Node[] = [{ value: raw, key: undefined, parent: undefined, depth: 0 }];
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    const { value, depth } = n;
    if (value === null || typeof value !== "object") continue;
    if (depth > MAX_DEPTH) return `${issuePath(pathOf(n).slice(0, 3))}: nested deeper than ${MAX_DEPTH} levels`;
    const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    for (const [key, v] of entries) {
      const child = { value: v, key, parent: n, depth: depth + 1 };
      if (key === "__proto__") return `${issuePath(pathOf(child))}: "__proto__" is a reserved name`;
      stack.push(child);
    }
  }
  return undefined;
}
