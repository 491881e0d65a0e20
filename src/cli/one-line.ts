/**
 * Error lines are one line each (DESIGN.md): a line break or other control character from
 * untrusted input (a key name, a file's content, a remote's message) must not start a line of
 * its own that could pass for oscd's. Such characters are written as JSON-style escapes;
 * lines of a multi-line message are joined with " | ".
 */
export function oneLine(text: string): string {
  const joined = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .join(" | ");
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped
  return joined.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
