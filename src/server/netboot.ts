import { checkFreshness, DEFAULT_SKEW_MS, fetchStoreFile, ipxeScript, netbootOf, parseManifest, verifyManifest, type FetchStoreFileOptions, type NetbootEntry, type StoreFile } from "../manifest/index.js";
import { formatPublicKey } from "../nix/index.js";
import type { Kysely } from "kysely";
import { isOscdError, type OscdError } from "../core/errors.js";
import type { PublicKey } from "../nix/index.js";
import type { Database } from "./db/schema.js";
import { HttpError } from "./errors.js";
import type { ServedCache } from "./served.js";

/** What netboot needs of the server: the host's channel, what it is served, the trusted keys, now. */
export interface NetbootContext {
  db: Kysely<Database>;
  served: ServedCache;
  trusted: readonly PublicKey[];
  now: () => number;
}

/** What `oscd server` needs to serve netboot files (src/server/routes/netboot.ts). */
export interface NetbootConfig {
  /** MAC address (lowercase, colons) → host, from the fleet's hosts.<name>.netboot.mac. */
  macs: ReadonlyMap<string, string>;
  /** Caches a missing kernel or initrd is substituted from (signatures by the trusted keys required). */
  substituters: readonly string[];
  /** GC root directory for substituted paths (default: Nix's oscd roots). */
  rootDir?: string;
}

export type NetbootPart = "boot.ipxe" | "kernel" | "initrd";

/** Verified kernels and initrds kept in memory, at most this many bytes (a fleet booting at once shares them). */
export const VERIFIED_CACHE_BYTES = 2 * 1024 * 1024 * 1024;

/**
 * Kernels and initrds already read and checked, keyed by store path, size and signed hash (the
 * same key is the same bytes), least recently used dropped first. Requests for a file being
 * read wait for that one read: fifty machines booting at once read and hash an initrd once,
 * and hold one copy. A failed read is not kept, so the next request tries again.
 */
export class VerifiedFiles {
  private readonly files = new Map<string, { data: Promise<Buffer>; size: number }>();
  private bytes = 0;

  constructor(private readonly maxBytes = VERIFIED_CACHE_BYTES) {}

  get(entry: StoreFile, what: string, opts: FetchStoreFileOptions): Promise<Buffer> {
    const key = `${entry.path}\u0000${entry.file}\u0000${entry.size}\u0000${entry.hash}`;
    const hit = this.files.get(key);
    if (hit) {
      this.files.delete(key);
      this.files.set(key, hit);
      return hit.data;
    }
    const data = fetchStoreFile(entry, what, opts);
    const slot = { data, size: entry.size };
    this.files.set(key, slot);
    this.bytes += entry.size;
    data.catch(() => this.drop(key, slot));
    for (const [k, v] of this.files) {
      if (this.bytes <= this.maxBytes || k === key) break;
      this.drop(k, v);
    }
    return data;
  }

  private drop(key: string, slot: { size: number }): void {
    if (this.files.get(key) !== slot) return;
    this.files.delete(key);
    this.bytes -= slot.size;
  }
}

/** A refusal in the netboot routes: its HTTP status and the error's own stable code, on one line. */
function refusal(status: number, e: OscdError): HttpError {
  return new HttpError(status, e.code, e.message, e.hint);
}

/**
 * The host's netboot entry from the manifest it is served for its channel (its rollout
 * assignment, else the newest complete release), verified again here with the trusted keys
 * and its expiry: the server serves files of no system it cannot show was signed.
 */
async function entryFor(ctx: NetbootContext, host: string): Promise<NetbootEntry> {
  const row = await ctx.db.selectFrom("hosts").select(["channel"]).where("name", "=", host).executeTakeFirst();
  const channel = row?.channel ?? "main";
  const served = await ctx.served.get(host, channel);
  if (!served) throw new HttpError(404, "netboot-no-release", `channel ${channel} has no release for this host`, "publish one (oscd image HOST --format netboot --server URL)");
  try {
    const m = parseManifest(served.body, `channel ${channel} sequence ${served.sequence}`);
    verifyManifest(m, ctx.trusted, `channel ${channel} sequence ${served.sequence}`);
    checkFreshness(m, { now: new Date(ctx.now()), skewMs: DEFAULT_SKEW_MS });
    return netbootOf(m, host);
  } catch (e) {
    if (!isOscdError(e)) throw e;
    throw refusal(e.code === "netboot-no-entry" ? 404 : 409, e);
  }
}

/**
 * One netboot file for a host whose identity the route established: the iPXE script, or the
 * kernel or initrd read whole and checked against the signed size and sha256 before a single
 * byte is sent (nothing is served half, nothing unchecked).
 */
export async function netbootFile(ctx: NetbootContext, cfg: NetbootConfig, files: VerifiedFiles, host: string, part: NetbootPart, base: string): Promise<{ type: string; body: string | Buffer }> {
  const entry = await entryFor(ctx, host);
  if (part === "boot.ipxe") return { type: "text/plain; charset=utf-8", body: ipxeScript(entry, base, host) };
  try {
    // Named without the host: a read shared by hosts with the same kernel must not name another host in an error.
    const data = await files.get(entry[part], `the netboot ${part}`, {
      substituters: cfg.substituters,
      trustedPublicKeys: ctx.trusted.map(formatPublicKey),
      rootDir: cfg.rootDir,
    });
    return { type: "application/octet-stream", body: data };
  } catch (e) {
    if (!isOscdError(e)) throw e;
    throw refusal(e.code === "image-hash-mismatch" || e.code === "path-corrupt" ? 502 : 503, e);
  }
}
