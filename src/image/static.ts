import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../core/atomic.js";
import { OscdError, UsageError, isOscdError } from "../core/errors.js";
import { checkFreshness, DEFAULT_SKEW_MS, fetchStoreFile, ipxeScript, netbootOf, parseManifest, verifyManifest, type FetchStoreFileOptions, type Manifest } from "../manifest/index.js";
import type { PublicKey } from "../nix/index.js";

export interface StaticNetbootOptions extends FetchStoreFileOptions {
  manifestText: string;
  /** Where the manifest came from, for messages. */
  where: string;
  trusted: readonly PublicKey[];
  outDir: string;
  /** The URL `outDir` is served at, e.g. http://boot.example.org/netboot. */
  baseUrl: string;
  /** Only these hosts (each must have netboot files); default: every host that has them. */
  hosts?: readonly string[];
  /** MAC address → host (the fleet's hosts.<name>.netboot.mac), for `by-mac/<mac>/boot.ipxe`. */
  macs?: ReadonlyMap<string, string>;
  allowNoExpiry?: boolean;
  now?: Date;
}

export interface StaticNetbootReport {
  channel: string;
  sequence: number;
  hosts: { name: string; toplevel: string; script: string; macs: string[] }[];
  skipped: { name: string; code: string; reason: string }[];
}

/** A base URL the scripts can carry: http(s), no spaces, control characters or `$`. */
export function checkBaseUrl(url: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (!/^https?:\/\/[^\s$\u0000-\u001f\u007f]+$/.test(url)) throw new UsageError(`${JSON.stringify(url.slice(0, 200))} is not an http(s) URL an iPXE script can carry`, "e.g. --base-url http://boot.example.org/netboot (no spaces or '$')", "bad-base-url");
  return url.replace(/\/+$/, "");
}

/**
 * `oscd netboot -o DIR`: each host's kernel, initrd and iPXE script as static files for any
 * web server, from a manifest verified here. Files go to `<host>/<toplevel hash>/` and the
 * host's `boot.ipxe` is written last, so a machine booting during an update gets one system's
 * kernel and initrd, never a mix. Every file is checked against the signed hash before it is
 * written.
 */
export async function writeNetbootStatic(opts: StaticNetbootOptions): Promise<StaticNetbootReport> {
  const base = checkBaseUrl(opts.baseUrl);
  const m: Manifest = parseManifest(opts.manifestText, opts.where);
  verifyManifest(m, opts.trusted, opts.where);
  checkFreshness(m, { now: opts.now ?? new Date(), skewMs: DEFAULT_SKEW_MS, allowNoExpiry: opts.allowNoExpiry });
  const names = opts.hosts ?? Object.keys(m.hosts).sort();
  const report: StaticNetbootReport = { channel: m.channel, sequence: m.sequence, hosts: [], skipped: [] };
  await mkdir(opts.outDir, { recursive: true, mode: 0o755 });
  for (const host of names) {
    let entry;
    try {
      entry = netbootOf(m, host);
    } catch (e) {
      // A host named explicitly must be written; the others just may not netboot.
      if (opts.hosts || !isOscdError(e)) throw e;
      if (e.code !== "netboot-no-entry") report.skipped.push({ name: host, code: e.code, reason: e.message });
      continue;
    }
    const version = entry.toplevel.slice("/nix/store/".length, "/nix/store/".length + 32);
    const dir = join(opts.outDir, host, version);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    for (const part of ["kernel", "initrd"] as const) {
      const data = await fetchStoreFile(entry[part], `${host}'s netboot ${part}`, opts);
      await writeFileAtomic(join(dir, part), data, 0o644);
    }
    const script = ipxeScript(entry, `${base}/${host}/${version}/`, host);
    await writeFileAtomic(join(opts.outDir, host, "boot.ipxe"), script, 0o644);
    const macs = [...(opts.macs ?? [])].filter(([, h]) => h === host).map(([mac]) => mac);
    for (const mac of macs) {
      await mkdir(join(opts.outDir, "by-mac", mac), { recursive: true, mode: 0o755 });
      await writeFileAtomic(join(opts.outDir, "by-mac", mac, "boot.ipxe"), script, 0o644);
    }
    report.hosts.push({ name: host, toplevel: entry.toplevel, script: join(opts.outDir, host, "boot.ipxe"), macs });
  }
  if (opts.macs && opts.macs.size > 0) {
    // iPXE fills in ${net0/mac} itself (lowercase, colons), the form hosts.<name>.netboot.mac is kept in.
    await writeFileAtomic(join(opts.outDir, "boot.ipxe"), `#!ipxe\nchain ${base}/by-mac/\${net0/mac}/boot.ipxe || echo oscd: this machine's MAC address is not in the fleet\n`, 0o644);
  }
  if (report.hosts.length === 0 && report.skipped.length === 0) {
    throw new OscdError("netboot-no-entry", `channel ${m.channel} (sequence ${m.sequence}) has no netboot files for any host`, { exitCode: 3, hint: "publish them with oscd image HOST --format netboot" });
  }
  return report;
}
