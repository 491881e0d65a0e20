import { checkFreshness, DEFAULT_SKEW_MS, fetchStoreFile, ipxeScript, netbootOf, parseManifest, verifyManifest, type NetbootEntry } from "../manifest/index.js";
import { formatPublicKey } from "../nix/index.js";
import { isOscdError, type OscdError } from "../core/errors.js";
import type { ServerContext } from "./context.js";
import { HttpError } from "./errors.js";

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

/** A refusal in the netboot routes: its HTTP status and the error's own stable code, on one line. */
function refusal(status: number, e: OscdError): HttpError {
  return new HttpError(status, e.code, e.message, e.hint);
}

/**
 * The host's netboot entry from the manifest it is served for its channel (its rollout
 * assignment, else the newest complete release), verified again here with the trusted keys
 * and its expiry: the server serves files of no system it cannot show was signed.
 */
async function entryFor(ctx: ServerContext, host: string): Promise<NetbootEntry> {
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
export async function netbootFile(ctx: ServerContext, cfg: NetbootConfig, host: string, part: NetbootPart, base: string): Promise<{ type: string; body: string | Buffer }> {
  const entry = await entryFor(ctx, host);
  if (part === "boot.ipxe") return { type: "text/plain; charset=utf-8", body: ipxeScript(entry, base, host) };
  try {
    const data = await fetchStoreFile(entry[part], `${host}'s netboot ${part}`, {
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
