import { quoteForMessage, wellFormed } from "./strict-json.js";

// How the manifest's messages show what came from the input (format.ts and manifest.ts).

/** A path segment or name from the input, printed as it is when plain, quoted (escaped) otherwise. */
export function shown(name: string | number): string {
  return typeof name === "number" || /^[A-Za-z0-9._+-]{1,64}$/.test(name) ? String(name) : quoteForMessage(name);
}

/** `where` is the caller's (a path or URL) but may hold anything a user typed: one line, always. */
export function oneLine(where: string): string {
  const control = [...where].some((c) => {
    const n = c.codePointAt(0) ?? 0;
    return n < 0x20 || n === 0x7f || n === 0x2028 || n === 0x2029;
  });
  return control || !wellFormed(where) ? quoteForMessage(where, 200) : where;
}
