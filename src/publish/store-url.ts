/** The directory of a `file://` store URL (query parameters removed). */
export function fileStoreDir(url: string): string | undefined {
  if (!url.startsWith("file://")) return undefined;
  return decodeURIComponent(url.slice("file://".length).split("?")[0] ?? "");
}

/** Query parameters that carry secrets or name where they are kept (Nix store URL settings). */
const SECRET_PARAM = /(?:^|[-_])(?:secret|key|token|password|passwd|pass|credentials?|auth|signature|sig)(?:$|[-_])|^(?:x-amz-|aws)/i;

/**
 * A store URL fit for the world-readable manifest and for progress lines: no user name or
 * password, and none of the parameters that carry secrets or key files (`secret-key=`,
 * `ssh-key=`, tokens). Everything else (host, path, `compression=`, `region=`) is kept, so
 * the URL still names the cache. The full URL is only ever given to Nix.
 */
export function redactUrl(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/s.exec(url);
  if (!m) return url.replace(/[?#].*$/s, "");
  const [, scheme = "", authority = "", path = "", query] = m;
  const at = authority.lastIndexOf("@");
  const host = at >= 0 ? authority.slice(at + 1) : authority;
  const kept = (query ?? "")
    .split("&")
    .filter((p) => p !== "")
    .filter((p) => {
      const name = decodeSafe(p.split("=")[0] ?? "");
      return !SECRET_PARAM.test(name);
    });
  return `${scheme}${host}${path}${kept.length > 0 ? `?${kept.join("&")}` : ""}`;
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

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
