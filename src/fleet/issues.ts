import type { ZodIssue } from "zod";
import { quoteUntrusted } from "../nix/index.js";

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
  return `${where}: ${i.message}`;
}

export function describeIssues(issues: readonly ZodIssue[]): string {
  return issues.slice(0, 3).map(describeIssue).join("; ");
}

/**
 * The place of the first `__proto__` key in parsed TOML, or undefined. Checked before zod,
 * which would assign such a key and so set the prototype of the table it builds.
 */
export function protoKeyPath(raw: unknown): string | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: raw, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { value: unknown; path: (string | number)[] };
    if (Array.isArray(value)) value.forEach((v, i) => stack.push({ value: v, path: [...path, i] }));
    else if (value !== null && typeof value === "object") {
      for (const k of Object.keys(value)) {
        if (k === "__proto__") return issuePath([...path, k]);
        stack.push({ value: (value as Record<string, unknown>)[k], path: [...path, k] });
      }
    }
  }
  return undefined;
}
