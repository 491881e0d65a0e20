/** The directory of a `file://` store URL (query parameters removed). */
export function fileStoreDir(url: string): string | undefined {
  if (!url.startsWith("file://")) return undefined;
  return decodeURIComponent(url.slice("file://".length).split("?")[0] ?? "");
}

export { redactUrl } from "../core/redact-url.js";
import { redactUrl } from "../core/redact-url.js";

/**
 * Runs `f` and takes the cache URL's credentials out of any error it throws: Nix's messages
 * and the command line kept on a failed command name the store as they were given.
 */
export async function withRedactedUrl<T>(url: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw redactIn(e, url);
  }
}

function redactIn(e: unknown, url: string): unknown {
  if (!(e instanceof Error)) return e;
  // The URL as given, and without its parameters (as Nix prints a store's files).
  const forms = [url, url.split("?")[0] ?? url].filter((f) => f !== "" && f !== redactUrl(f));
  if (forms.length === 0) return e;
  const clean = (s: string) => forms.reduce((acc, f) => acc.split(f).join(redactUrl(f)), s);
  e.message = clean(e.message);
  const o = e as Error & { stderrTail?: unknown; command?: unknown };
  if (typeof o.stderrTail === "string") Object.defineProperty(o, "stderrTail", { value: clean(o.stderrTail) });
  if (Array.isArray(o.command)) Object.defineProperty(o, "command", { value: (o.command as unknown[]).map((a) => (typeof a === "string" ? clean(a) : a)) });
  return e;
}
