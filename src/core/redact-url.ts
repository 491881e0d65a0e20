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
