/**
 * Untrusted text (names and values from files, caches and payloads) shown in an error
 * message: quoted, cut short, and escaped so that it can never split the message's one line:
 * control characters, U+2028/U+2029 and lone surrogates become `\u` escapes.
 */
export function quoteUntrusted(text: string, max = 60): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  // JSON.stringify escapes C0 controls and lone surrogates; the rest is done here.
  return JSON.stringify(cut).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
