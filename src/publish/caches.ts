import { mkdir } from "node:fs/promises";
import { OscdError } from "../core/errors.js";
import {
  checkStoreUrl,
  copyTo,
  lastErrorLine,
  narInfoFingerprint,
  nixRun,
  pathInfo,
  signerOf,
  signPaths,
  StoreUnreachableError,
  type NixCallOptions,
  type PathInfo,
} from "../nix/index.js";
import type { SigningKey } from "./key.js";

/**
 * Nix remembers what an http or s3 cache holds for 30 days (its narinfo disk cache); a cache
 * that was wiped or is new at a reused address must be asked, not remembered.
 */
const FRESH: Record<string, string> = { "narinfo-cache-negative-ttl": "0", "narinfo-cache-positive-ttl": "0" };

/** Nix's base-32 (alphabet without e, o, t, u; least significant bits first). */
export function nixBase32(bytes: Buffer): string {
  const chars = "0123456789abcdfghijklmnpqrsvwxyz";
  const len = Math.ceil((bytes.length * 8) / 5);
  let out = "";
  for (let n = len - 1; n >= 0; n--) {
    const b = n * 5;
    const i = Math.floor(b / 8);
    const j = b % 8;
    const c = ((bytes[i] ?? 0) >> j) | (i + 1 < bytes.length ? (bytes[i + 1] ?? 0) << (8 - j) : 0);
    out += chars[c & 0x1f];
  }
  return out;
}

/** `sha256-<base64>` (what `nix path-info --json` prints) as `sha256:<base32>` (what Nix signs). */
export function narHashForSigning(h: string): string {
  if (h.startsWith("sha256:")) return h;
  if (h.startsWith("sha256-")) return `sha256:${nixBase32(Buffer.from(h.slice(7), "base64"))}`;
  throw new OscdError("narhash-format", `unexpected NAR hash ${h.slice(0, 20)}`);
}

/** True when the path info carries a valid signature by `key` (the check Nix makes). */
export function signedBy(info: PathInfo, key: SigningKey): boolean {
  if (!info.valid || !info.narHash) return false;
  const fp = narInfoFingerprint({ storePath: info.path, narHash: narHashForSigning(info.narHash), narSize: info.narSize, references: info.references });
  return info.signatures.some((s) => signerOf([key.public], fp, s) !== undefined);
}

/** The directory of a `file://` store URL (query parameters removed). */
export function fileStoreDir(url: string): string | undefined {
  if (!url.startsWith("file://")) return undefined;
  return decodeURIComponent(url.slice("file://".length).split("?")[0] ?? "");
}

/**
 * Checks that a cache can be reached before anything is built, so an unreachable cache fails
 * in seconds, not after the build: `nix store ping` with one download attempt.
 */
export async function preflightCache(url: string, nix: NixCallOptions = {}): Promise<void> {
  checkStoreUrl(url);
  const dir = fileStoreDir(url);
  if (dir !== undefined) {
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      throw new StoreUnreachableError(url, `cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  const r = await nixRun("nix", ["store", "ping", "--store", url], {
    timeoutMs: 60_000,
    ...nix,
    settings: { "download-attempts": "1", "connect-timeout": "10", ...nix.settings },
  });
  if (r.exitCode === 0) return;
  if (/don't know how to open Nix store/.test(r.stderr)) {
    throw new OscdError("store-unsupported", `this Nix cannot open ${url.split("?")[0]} (${url.startsWith("s3://") ? "it was built without S3 support" : "unknown store type"})`, {
      hint: "use a Nix built with S3 support (nixpkgs' nix has it; Debian's nix-bin does not), or publish to file://, http(s):// or ssh-ng://",
      exitCode: 2,
    });
  }
  throw new StoreUnreachableError(url, lastErrorLine(r.stderr) || `nix store ping exited ${r.exitCode}`);
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
  /** Paths the cache had but without a valid fleet signature, signed in place. */
  signedInCache: number;
  /** Per host: paths of its closure that were uploaded now. */
  hosts: Record<string, { uploadedPaths: number; uploadedBytes: number }>;
}

export type UploadEvent = { url: string; host: string; state: "uploading" | "uploaded" | "present"; paths: number; bytes: number };

export interface UploadOptions {
  nix?: NixCallOptions;
  onEvent?: (e: UploadEvent) => void;
}

/** Each host's closure, from one `nix path-info --recursive` of all toplevels. */
function closures(hosts: readonly HostClosure[], infos: Map<string, PathInfo>): Map<string, Set<string>> {
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
 * Puts the closures of `hosts` into the cache, signed with the fleet key: asks the cache which
 * paths it has, signs and copies only the missing ones (one `nix copy`), and signs in place the
 * paths it has without a valid fleet signature. Nothing is written when the cache has it all.
 */
export async function uploadClosures(url: string, hosts: readonly HostClosure[], key: SigningKey, opts: UploadOptions = {}): Promise<CacheUpload> {
  const nix = opts.nix ?? {};
  const result: CacheUpload = { url, closurePaths: 0, uploadedPaths: 0, uploadedBytes: 0, signedInCache: 0, hosts: {} };
  if (hosts.length === 0) return result;
  const tops = [...new Set(hosts.map((h) => h.toplevel))];
  const local = new Map((await pathInfo(tops, { ...nix, recursive: true })).map((i) => [i.path, i]));
  const all = [...local.keys()];
  result.closurePaths = all.length;
  const remote = new Map((await inCache(url, all, nix)).map((i) => [i.path, i]));
  const missing = all.filter((p) => !remote.get(p)?.valid);
  const unsigned = all.filter((p) => {
    const r = remote.get(p);
    return r?.valid && !signedBy(r, key);
  });
  const missingSet = new Set(missing);
  const perHost = closures(hosts, local);
  for (const h of hosts) {
    const mine = [...(perHost.get(h.host) ?? [])].filter((p) => missingSet.has(p));
    const bytes = mine.reduce((n, p) => n + (local.get(p)?.narSize ?? 0), 0);
    result.hosts[h.host] = { uploadedPaths: mine.length, uploadedBytes: bytes };
    opts.onEvent?.({ url, host: h.host, state: mine.length > 0 ? "uploading" : "present", paths: mine.length, bytes });
  }
  if (missing.length > 0) {
    await signPaths(missing, key.file, nix);
    const hostsOf = new Map<string, string[]>();
    for (const h of hosts) hostsOf.set(h.toplevel, [...(hostsOf.get(h.toplevel) ?? []), h.host]);
    const announced = new Set<string>();
    const announce = (host: string) => {
      if (announced.has(host) || (result.hosts[host]?.uploadedPaths ?? 0) === 0) return;
      announced.add(host);
      const r = result.hosts[host] as { uploadedPaths: number; uploadedBytes: number };
      opts.onEvent?.({ url, host, state: "uploaded", paths: r.uploadedPaths, bytes: r.uploadedBytes });
    };
    await copyTo(url, missing, {
      ...nix,
      settings: { ...FRESH, ...nix.settings },
      onLog: (line) => {
        // Nix copies in dependency order, so a toplevel is copied after the rest of its closure.
        const m = /^copying path '([^']+)' to '/.exec(line.trim());
        if (m && m[1]) for (const host of hostsOf.get(m[1]) ?? []) announce(host);
        nix.onLog?.(line);
      },
    });
    for (const h of hosts) announce(h.host);
    result.uploadedPaths = missing.length;
    result.uploadedBytes = missing.reduce((n, p) => n + (local.get(p)?.narSize ?? 0), 0);
  }
  if (unsigned.length > 0) {
    await signPaths(unsigned, key.file, { ...nix, store: url, settings: { ...FRESH, ...nix.settings } });
    result.signedInCache = unsigned.length;
  }
  // When the cache had everything, signed, the first query already proved it.
  if (missing.length > 0 || unsigned.length > 0) await checkUploaded(url, tops, key, nix);
  return result;
}

async function inCache(url: string, paths: readonly string[], nix: NixCallOptions): Promise<PathInfo[]> {
  try {
    return await pathInfo(paths, { ...nix, store: url, settings: { ...FRESH, ...nix.settings } });
  } catch (e) {
    if (e instanceof OscdError && /unable to download|Couldn't connect|Connection refused|Could not resolve|cannot connect|Permission denied/i.test(e.message)) {
      throw new StoreUnreachableError(url, e.message);
    }
    throw e;
  }
}

/** After uploading: every toplevel is in the cache with a valid fleet signature. */
async function checkUploaded(url: string, toplevels: readonly string[], key: SigningKey, nix: NixCallOptions): Promise<void> {
  const infos = await inCache(url, toplevels, nix);
  const bad = infos.filter((i) => !signedBy(i, key));
  if (bad.length > 0) {
    throw new OscdError("cache-upload-incomplete", `${url} does not hold ${bad.map((b) => b.path).join(", ")} signed by ${key.public.name} after the upload`, {
      hint: "check that the cache accepts uploads (write permission, S3 credentials) and try again",
    });
  }
}
