import { GuardError } from "../core/errors.js";
import { NETBOOT_PARAMS, type Manifest, type NetbootEntry } from "./manifest.js";

/**
 * The iPXE script of a host's netboot entry. `base` is where the script itself was fetched
 * from (`…/<host-identity>/`), so the kernel and initrd come from the same identity and are
 * checked the same way. Parameters were checked by the manifest schema (printable ASCII, no
 * `$`, which iPXE would expand); they are checked again here because the script is code.
 */
export function ipxeScript(entry: NetbootEntry, base: string, host: string): string {
  if (!NETBOOT_PARAMS.test(entry.params)) throw new Error("netboot parameters with characters an iPXE script cannot hold");
  // eslint-disable-next-line no-control-regex -- control characters and '$' are what is refused
  if (/[\u0000-\u0020\u007f$]/.test(base) || !/^[A-Za-z0-9_-]+$/.test(host)) throw new Error("netboot base URL or host name an iPXE script cannot hold");
  const b = base.endsWith("/") ? base : `${base}/`;
  return [
    "#!ipxe",
    `# oscd netboot: ${host}, system ${entry.toplevel}`,
    `kernel ${b}kernel initrd=initrd ${entry.params}`.trimEnd(),
    `initrd --name initrd ${b}initrd`,
    "boot",
    "",
  ].join("\n");
}

/** Kernel parameters that boot `toplevel`: its init first, then the configuration's own parameters. */
export function netbootParams(toplevel: string, kernelParams: string): string {
  return `init=${toplevel}/init ${kernelParams.trim().replace(/\s+/g, " ")}`.trim();
}

/** The signed manifest has no netboot entry for the host (or no entry at all). */
export class NetbootNoEntryError extends GuardError {
  constructor(host: string, channel: string, detail: string) {
    super("netboot-no-entry", `channel ${channel} has no netboot files for ${host}: ${detail}`, "publish them with oscd image HOST --format netboot");
  }
}

/** The netboot entry boots another system than the one the host's entry names: refused, never served. */
export class NetbootStaleError extends GuardError {
  constructor(host: string, channel: string) {
    super("netboot-stale", `channel ${channel}'s netboot files for ${host} are for another system than the one it names for ${host}`, "publish them again with oscd image HOST --format netboot");
  }
}

/**
 * The netboot entry of a host in a manifest whose signature the caller checked: present, and
 * for the very toplevel the host's entry names (the kernel parameters boot that toplevel).
 */
export function netbootOf(m: Manifest, host: string): NetbootEntry {
  const entry = Object.hasOwn(m.hosts, host) ? m.hosts[host] : undefined;
  if (!entry) throw new NetbootNoEntryError(host, m.channel, "the host has no entry");
  if (!entry.netboot) throw new NetbootNoEntryError(host, m.channel, "its entry has no netboot record");
  const n = entry.netboot;
  if (n.toplevel !== entry.toplevel || !n.params.startsWith(`init=${entry.toplevel}/init`)) throw new NetbootStaleError(host, m.channel);
  return n;
}
