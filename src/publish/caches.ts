import { access, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { OscdError } from "../core/errors.js";
import { checkStoreUrl, copyTo, features, lastErrorLine, nixRun, nixVersion, pathInfo, signPaths, storeUnreachable, storeUnsupported, StoreUnreachableError, type NixCallOptions, type PathInfo } from "../nix/index.js";
import { cacheFiles } from "./cache-files.js";
import { CachePathMismatchError, reuploadToCache, signVerifiedInCache } from "./cache-fix.js";
import type { SigningKey } from "./key.js";
import { sameAsLocal, signedBy } from "./path-check.js";
import { fileStoreDir, redactUrl, withRedactedUrl } from "./store-url.js";

/**
 * Nix remembers what an http or s3 cache holds for 30 days (its narinfo disk cache); a cache
 * that was wiped or is new at a reused address must be asked, not remembered.
 */
const FRESH: Record<string, string> = { "narinfo-cache-negative-ttl": "0", "narinfo-cache-positive-ttl": "0" };

/**
 * Checks that a cache can be reached before anything is built, so an unreachable cache fails
 * in seconds, not after the build: `nix store info` (`nix store ping` before Nix 2.19 and on
 * Lix) with one download attempt.
 */
export async function preflightCache(url: string, nix: NixCallOptions = {}): Promise<void> {
  return withRedactedUrl(url, () => preflight(url, nix));
}

/**
 * The read-only preflight of `publish --dry-run`: "new" for a file:// cache that does not exist
 * yet (a real run creates it; Nix itself would create it when asked about it), else the same
 * check as preflightCache.
 */
export async function preflightCacheReadOnly(url: string, nix: NixCallOptions = {}): Promise<"new" | "exists"> {
  const dir = fileStoreDir(url);
  if (dir !== undefined && !(await access(join(dir, "nix-cache-info")).then(() => true, () => false))) {
    checkStoreUrl(url);
    return "new";
  }
  await withRedactedUrl(url, () => preflight(url, nix, false));
  return "exists";
}

async function preflight(url: string, nix: NixCallOptions, create = true): Promise<void> {
  checkStoreUrl(url);
  const dir = fileStoreDir(url);
  if (dir !== undefined && create) {
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      throw new StoreUnreachableError(redactUrl(url), `cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  const info = features(await nixVersion(nix)).storeInfo;
  const r = await nixRun("nix", [...info, "--store", url], {
    timeoutMs: 60_000,
    ...nix,
    settings: { "download-attempts": "1", "connect-timeout": "10", ...nix.settings },
  });
  if (r.exitCode === 0) return;
  if (storeUnsupported(r.stderr)) {
    throw new OscdError("store-unsupported", `this Nix cannot open ${redactUrl(url.split("?")[0] ?? "")} (${url.startsWith("s3://") ? "it was built without S3 support" : "unknown store type"})`, {
      hint: "use a Nix built with S3 support (nixpkgs' nix has it; Debian's nix-bin does not), or publish to file://, http(s):// or ssh-ng://",
      exitCode: 2,
    });
  }
  throw new StoreUnreachableError(redactUrl(url), lastErrorLine(r.stderr) || `nix ${info.join(" ")} exited ${r.exitCode}`);
}

export interface HostClosure {
  host: string;
  toplevel: string;
}

export interface CacheUpload {
  url: string;
  /** Paths of the closures. */
  closurePaths: number;
  /** Paths the cache lacked and that were copied, and their NAR bytes. */
  uploadedPaths: number;
  uploadedBytes: number;
  /** Paths the cache had, the same as here, without a valid fleet signature: signed in place. */
  signedInCache: number;
  /** Paths the cache had with other contents than this build: replaced with the local bytes. */
  replacedInCache: number;
  /** Per host: paths of its closure that were uploaded now. */
  hosts: Record<string, { uploadedPaths: number; uploadedBytes: number }>;
}

export type UploadEvent = { url: string; host: string; state: "uploading" | "uploaded" | "present"; paths: number; bytes: number };

export interface UploadOptions {
  nix?: NixCallOptions;
  onEvent?: (e: UploadEvent) => void;
}

/** Each host's closure, from one `nix path-info --recursive` of all toplevels. */
function closures(hosts: readonly HostClosure[], infos: ReadonlyMap<string, PathInfo>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const h of hosts) {
    const seen = new Set<string>();
    const stack = [h.toplevel];
    while (stack.length > 0) {
      const p = stack.pop() as string;
      if (seen.has(p)) continue;
      seen.add(p);
      for (const r of infos.get(p)?.references ?? []) if (!seen.has(r)) stack.push(r);
    }
    out.set(h.host, seen);
  }
  return out;
}

/**
 * Puts the closures of `hosts` into the cache, signed with the fleet key. One query asks the
 * cache for every path's record; a path it lacks is signed and copied (one `nix copy`), a path
 * it holds unsigned is signed there only when its record (NAR hash, size, references) is the
 * local path's, and a path it holds with any other record (someone else's NAR under a fleet
 * path's name) is replaced with the local bytes, or refused naming it where oscd cannot write
 * the cache's files. The fleet signature never goes on bytes not compared with this build.
 * Nothing is written when the cache has it all, signed and the same.
 */
export async function uploadClosures(url: string, hosts: readonly HostClosure[], key: SigningKey, opts: UploadOptions = {}): Promise<CacheUpload> {
  return withRedactedUrl(url, () => uploadTo(url, hosts, key, opts));
}

/** How a cache's records compare with the local closures: what an upload would write and sign. */
interface CacheComparison {
  local: Map<string, PathInfo>;
  missing: string[];
  unsigned: string[];
  different: string[];
  closurePaths: number;
}

async function compare(url: string, hosts: readonly HostClosure[], key: SigningKey, nix: NixCallOptions, cacheIsNew = false): Promise<CacheComparison> {
  const tops = [...new Set(hosts.map((h) => h.toplevel))];
  const local = new Map((await pathInfo(tops, { ...nix, recursive: true })).map((i) => [i.path, i]));
  const all = [...local.keys()];
  // A cache that does not exist yet holds nothing (and asking Nix would create it).
  const remote = new Map(cacheIsNew ? [] : (await inCache(url, all, nix)).map((i) => [i.path, i]));
  const c: CacheComparison = { local, missing: [], unsigned: [], different: [], closurePaths: all.length };
  for (const p of all) {
    const r = remote.get(p);
    const l = local.get(p) as PathInfo;
    if (!r?.valid) c.missing.push(p);
    else if (!sameAsLocal(l, r)) c.different.push(p);
    else if (!signedBy(r, key)) c.unsigned.push(p);
  }
  return c;
}

/** Per host: the paths of its closure among `upload`, and their NAR bytes. */
function perHostUpload(hosts: readonly HostClosure[], local: ReadonlyMap<string, PathInfo>, upload: ReadonlySet<string>): Record<string, { uploadedPaths: number; uploadedBytes: number }> {
  const perHost = closures(hosts, local);
  const out: Record<string, { uploadedPaths: number; uploadedBytes: number }> = {};
  for (const h of hosts) {
    const mine = [...(perHost.get(h.host) ?? [])].filter((p) => upload.has(p));
    out[h.host] = { uploadedPaths: mine.length, uploadedBytes: mine.reduce((n, p) => n + (local.get(p)?.narSize ?? 0), 0) };
  }
  return out;
}

/**
 * What `uploadClosures` would do, without doing it (`publish --dry-run`): the same query of
 * the cache, and the counts a real upload reports as uploaded, signed in the cache and
 * replaced. Nothing is signed, copied or created; `cacheIsNew` says the cache does not exist.
 */
export async function planUpload(url: string, hosts: readonly HostClosure[], key: SigningKey, opts: { nix?: NixCallOptions; cacheIsNew?: boolean } = {}): Promise<CacheUpload> {
  return withRedactedUrl(url, async () => {
    const result: CacheUpload = { url: redactUrl(url), closurePaths: 0, uploadedPaths: 0, uploadedBytes: 0, signedInCache: 0, replacedInCache: 0, hosts: {} };
    if (hosts.length === 0) return result;
    const c = await compare(url, hosts, key, opts.nix ?? {}, opts.cacheIsNew);
    if (c.different.length > 0 && !cacheFiles(url)) throw new CachePathMismatchError(url, c.different);
    const upload = new Set([...c.missing, ...c.different]);
    result.closurePaths = c.closurePaths;
    result.uploadedPaths = upload.size;
    result.uploadedBytes = [...upload].reduce((n, p) => n + (c.local.get(p)?.narSize ?? 0), 0);
    result.signedInCache = c.unsigned.length;
    result.replacedInCache = c.different.length;
    result.hosts = perHostUpload(hosts, c.local, upload);
    return result;
  });
}

async function uploadTo(url: string, hosts: readonly HostClosure[], key: SigningKey, opts: UploadOptions): Promise<CacheUpload> {
  const nix = opts.nix ?? {};
  const shown = redactUrl(url);
  const result: CacheUpload = { url: shown, closurePaths: 0, uploadedPaths: 0, uploadedBytes: 0, signedInCache: 0, replacedInCache: 0, hosts: {} };
  if (hosts.length === 0) return result;
  const tops = [...new Set(hosts.map((h) => h.toplevel))];
  const { local, missing, unsigned, ...c } = await compare(url, hosts, key, nix);
  let different = c.different;
  result.closurePaths = c.closurePaths;
  const files = cacheFiles(url);
  if (different.length > 0 && !files) throw new CachePathMismatchError(url, different);
  if (unsigned.length > 0) {
    if (files) different = [...different, ...(await signVerifiedInCache(files, unsigned, local, key))];
    // ssh-ng: the remote Nix store computed the record itself when it imported the path.
    else await signPaths(unsigned, key.file, { ...nix, store: url, settings: { ...FRESH, ...nix.settings } });
    result.signedInCache = unsigned.length - different.filter((p) => unsigned.includes(p)).length;
  }
  const upload = new Set([...missing, ...different]);
  result.hosts = perHostUpload(hosts, local, upload);
  for (const h of hosts) {
    const r = result.hosts[h.host] as { uploadedPaths: number; uploadedBytes: number };
    opts.onEvent?.({ url: shown, host: h.host, state: r.uploadedPaths > 0 ? "uploading" : "present", paths: r.uploadedPaths, bytes: r.uploadedBytes });
  }
  const announced = new Set<string>();
  const announce = (host: string) => {
    if (announced.has(host) || (result.hosts[host]?.uploadedPaths ?? 0) === 0) return;
    announced.add(host);
    const r = result.hosts[host] as { uploadedPaths: number; uploadedBytes: number };
    opts.onEvent?.({ url: shown, host, state: "uploaded", paths: r.uploadedPaths, bytes: r.uploadedBytes });
  };
  if (missing.length > 0) {
    await signPaths(missing, key.file, nix);
    const hostsOf = new Map<string, string[]>();
    for (const h of hosts) hostsOf.set(h.toplevel, [...(hostsOf.get(h.toplevel) ?? []), h.host]);
    await copyTo(url, missing, {
      ...nix,
      settings: { ...FRESH, ...nix.settings },
      onLog: (line) => {
        // Nix copies in dependency order, so a toplevel is copied after the rest of its closure.
        const m = /^copying path '([^']+)' to '/.exec(line.trim());
        if (m && m[1] && !different.length) for (const host of hostsOf.get(m[1]) ?? []) announce(host);
        nix.onLog?.(line);
      },
    });
  }
  if (different.length > 0 && files) {
    await reuploadToCache(url, files, different, local, key, nix);
    result.replacedInCache = different.length;
  }
  for (const h of hosts) announce(h.host);
  result.uploadedPaths = upload.size;
  result.uploadedBytes = [...upload].reduce((n, p) => n + (local.get(p)?.narSize ?? 0), 0);
  // When the cache had everything, signed and the same, the first query already proved it.
  if (upload.size > 0 || unsigned.length > 0) await checkUploaded(url, [...new Set([...tops, ...upload, ...unsigned])], local, key, nix);
  return result;
}

async function inCache(url: string, paths: readonly string[], nix: NixCallOptions): Promise<PathInfo[]> {
  try {
    return await pathInfo(paths, { ...nix, store: url, settings: { ...FRESH, ...nix.settings } });
  } catch (e) {
    if (e instanceof OscdError && (/unable to download/i.test(e.message) || storeUnreachable(e.message) !== undefined)) {
      throw new StoreUnreachableError(redactUrl(url), e.message);
    }
    throw e;
  }
}

/** After uploading: every path written or signed is in the cache, the same as here, with a valid fleet signature. */
async function checkUploaded(url: string, paths: readonly string[], local: ReadonlyMap<string, PathInfo>, key: SigningKey, nix: NixCallOptions): Promise<void> {
  const infos = await inCache(url, paths, nix);
  const changed = infos.filter((i) => i.valid && !sameAsLocal(local.get(i.path) as PathInfo, i)).map((i) => i.path);
  if (changed.length > 0) throw new CachePathMismatchError(url, changed);
  const bad = infos.filter((i) => !signedBy(i, key));
  if (bad.length > 0) {
    throw new OscdError("cache-upload-incomplete", `${redactUrl(url)} does not hold ${bad.map((b) => b.path).join(", ")} signed by ${key.public.name} after the upload`, {
      hint: "check that the cache accepts uploads (write permission, S3 credentials) and try again",
    });
  }
}
