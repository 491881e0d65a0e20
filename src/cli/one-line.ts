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

/**
 * A tool's multi-line message (Nix's error, whole) under oscd's one-line error: every line
 * indented by two spaces, so none can pass for oscd's own `oscd: error[…]` or `hint:` line,
 * and control characters (a terminal escape in a build log) written as escapes.
 */
export function indentedDetail(text: string): string {
  return text
    .split(/\r?\n/)
    .map((l) => `  ${escapeControls(l.replace(/\s+$/, ""))}`.trimEnd())
    .join("\n");
}

function escapeControls(line: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped
  return line.replace(/\t/g, "    ").replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
