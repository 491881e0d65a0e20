import { existsSync } from "node:fs";
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { httpFetch } from "../core/http.js";
import { nixRun, type NixCallOptions } from "./command.js";
import { parsePublicKey, type PublicKey } from "./keys.js";
import { MAX_NARINFO_BYTES, parseNarInfo, verifyNarInfo } from "./narinfo.js";
import { parseStorePath, STORE_DIR } from "./storepath.js";

/**
 * How much a realise of a path would add to this store: the NAR sizes of the paths of its
 * closure that are not here yet. Read from the caches' signed narinfos (the same records Nix
 * checks), walking references from the path; a path already here brings its whole closure (Nix
 * keeps closures complete), so the walk stops there.
 */
export interface MissingSize {
  /** Bytes of the NARs to add (what the store grows by once unpacked). */
  narBytes: number;
  /** Paths to add. */
  paths: number;
  /** Where the numbers come from: `narinfo` (signed records) or `nix` (Nix's own dry run). */
  from: "narinfo" | "nix";
  /**
   * The cache whose record of the path itself was read and carries a signature of one of the
   * trusted keys (only when the path was missing and the narinfos answered). Realising it next
   * with the same caches and keys, oscd's own reading of that signature would only repeat this.
   */
  rootSignedIn?: string;
}

export interface MissingSizeOptions extends NixCallOptions {
  /** Caches in order; empty: Nix's configured ones (then Nix's dry run answers). */
  substituters?: readonly string[];
  trustedPublicKeys?: readonly string[];
  /** Per narinfo request. */
  requestTimeoutMs?: number;
  /** Whether a store path is here already (tests; default: it exists in /nix/store). */
  present?: (storePath: string) => boolean;
}

/** The narinfos cannot say (a cache oscd cannot read itself, an unsigned record, a missing path). */
class NotFromNarinfos extends Error {}

const PARALLEL = 16;

/**
 * The size a realise of `storePath` needs, or undefined when nothing can say (the path is in no
 * cache: the realise itself then fails with its own error). File and http(s) caches are read
 * directly; for others (ssh, s3, a cache needing Nix's netrc) or no caches given, Nix's dry run
 * (`nix-store --realise --dry-run`) answers with its own rounding.
 */
export async function missingClosureSize(storePath: string, opts: MissingSizeOptions = {}): Promise<MissingSize | undefined> {
  parseStorePath(storePath);
  if ((opts.present ?? existsSync)(storePath)) return { narBytes: 0, paths: 0, from: "narinfo" };
  const caches = opts.substituters ?? [];
  const readable = caches.length > 0 && caches.every((c) => /^(file|https?):\/\//.test(c));
  if (readable) {
    try {
      return await fromNarinfos(storePath, caches, (opts.trustedPublicKeys ?? []).map((k) => parsePublicKey(k)), opts);
    } catch (e) {
      if (!(e instanceof NotFromNarinfos)) throw e;
    }
  }
  return fromDryRun(storePath, opts);
}

async function fromNarinfos(root: string, caches: readonly string[], keys: readonly PublicKey[], opts: MissingSizeOptions): Promise<MissingSize> {
  const present = opts.present ?? ((p: string) => existsSync(p));
  const seen = new Set<string>([root]);
  let level = present(root) ? [] : [root];
  let narBytes = 0;
  let paths = 0;
  let rootSignedIn: string | undefined;
  while (level.length > 0) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += PARALLEL) {
      const infos = await Promise.all(level.slice(i, i + PARALLEL).map((p) => narinfoOf(p, caches, keys, opts.requestTimeoutMs ?? 10_000)));
      for (const { info, cache } of infos) {
        if (info.storePath === root) rootSignedIn = cache;
        narBytes += info.narSize;
        paths++;
        for (const ref of info.references) {
          const full = `${STORE_DIR}/${ref}`;
          if (seen.has(full)) continue;
          seen.add(full);
          if (!present(full)) next.push(full);
        }
      }
    }
    level = next;
  }
  return rootSignedIn === undefined ? { narBytes, paths, from: "narinfo" } : { narBytes, paths, from: "narinfo", rootSignedIn };
}

/** The first cache's narinfo for the path, signed by a trusted key (and that cache), or NotFromNarinfos. */
async function narinfoOf(storePath: string, caches: readonly string[], keys: readonly PublicKey[], timeoutMs: number) {
  const { hash } = parseStorePath(storePath);
  for (const cache of caches) {
    const text = await readNarinfo(cache, `${hash}.narinfo`, timeoutMs);
    if (text === undefined) continue;
    let info;
    try {
      info = parseNarInfo(text);
    } catch (e) {
      // A damaged record: Nix's own estimate (and then its realise) has the last word.
      throw new NotFromNarinfos(e instanceof Error ? e.message : String(e));
    }
    if (info.storePath !== storePath) throw new NotFromNarinfos(`${cache} answers for ${storePath} with ${info.storePath}`);
    // An unsigned record's size proves nothing: Nix refuses the path anyway, with its own error.
    if (!verifyNarInfo(info, keys)) throw new NotFromNarinfos(`${storePath} is not signed by a trusted key in ${cache}`);
    return { info, cache };
  }
  throw new NotFromNarinfos(`${storePath} is in none of the caches`);
}

async function readNarinfo(cache: string, name: string, timeoutMs: number): Promise<string | undefined> {
  const url = new URL(cache);
  if (url.protocol === "file:") return readNarinfoFile(join(decodeURIComponent(url.pathname), name));
  const headers: Record<string, string> = {};
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  const base = url.href.endsWith("/") ? url.href : `${url.href}/`;
  let res;
  try {
    res = await httpFetch(new URL(name, base), { timeoutMs, maxBytes: MAX_NARINFO_BYTES, headers });
  } catch (e) {
    throw new NotFromNarinfos(e instanceof Error ? e.message : String(e));
  }
  if (res.status === 404 || res.status === 410) return undefined;
  // 401/403: the cache wants credentials Nix has (a netrc file) and oscd does not.
  if (res.status !== 200) throw new NotFromNarinfos(`${cache} answered ${res.status}`);
  return res.body;
}

/** A file cache's narinfo: a regular file (no link followed, no FIFO waited on), read only up to the cap. */
async function readNarinfoFile(path: string): Promise<string | undefined> {
  let f;
  try {
    f = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new NotFromNarinfos(`${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    const st = await f.stat();
    if (!st.isFile() || st.size > MAX_NARINFO_BYTES) throw new NotFromNarinfos(`${path} is not a regular file of at most ${MAX_NARINFO_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await f.read(buf, 0, st.size, 0);
    return buf.subarray(0, bytesRead).toString("utf8");
  } finally {
    await f.close();
  }
}

/**
 * Nix's own estimate: `these N paths will be fetched (X MiB download, Y MiB unpacked)` (Nix
 * 2.8: `%.2f MiB`; newer Nix and Lix choose the unit and say "this path" for one).
 */
export function parseDryRunSize(stderr: string): { narBytes: number; paths: number } | undefined {
  const m = /(?:these (\d+) paths|this path) will be fetched \(([\d.]+) ?([KMGT]i?B|B|bytes) download, ([\d.]+) ?([KMGT]i?B|B|bytes) unpacked\)/.exec(stderr);
  if (!m) return undefined;
  const unit: Record<string, number> = { B: 1, bytes: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4, KB: 1000, MB: 1e6, GB: 1e9, TB: 1e12 };
  return { paths: m[1] ? Number(m[1]) : 1, narBytes: Math.ceil(Number(m[4]) * (unit[m[5] as string] ?? 1)) };
}

async function fromDryRun(storePath: string, opts: MissingSizeOptions): Promise<MissingSize | undefined> {
  const settings: Record<string, string> = { "narinfo-cache-negative-ttl": "0", ...opts.settings, "require-sigs": "true" };
  if (opts.substituters && opts.substituters.length > 0) settings.substituters = opts.substituters.join(" ");
  if (opts.trustedPublicKeys && opts.trustedPublicKeys.length > 0) settings["trusted-public-keys"] = opts.trustedPublicKeys.join(" ");
  let r;
  try {
    r = await nixRun("nix-store", ["--realise", "--dry-run", storePath], { timeoutMs: 120_000, ...opts, settings });
  } catch {
    // Caches that do not answer in time: the realise itself says so, with its own error.
    return undefined;
  }
  if (r.exitCode !== 0) return undefined;
  const s = parseDryRunSize(r.stderr);
  if (s) return { ...s, from: "nix" };
  // Nothing to fetch, or something Nix would have to build (the realise refuses that itself).
  return /will be built/.test(r.stderr) ? undefined : { narBytes: 0, paths: 0, from: "nix" };
}
