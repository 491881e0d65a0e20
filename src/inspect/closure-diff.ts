import { rebootNeeded, type RebootNeed } from "../activate/index.js";
import { closure, pathInfo, type NixCallOptions } from "../nix/index.js";
import { packageDiff, type PackageDiff } from "./packages.js";

/** What moving a host from one toplevel to another changes. */
export interface SystemDiff {
  from: string;
  to: string;
  /** The toplevels differ (when not, the rest is empty). */
  changed: boolean;
  packages: PackageDiff;
  closureSize: { from: number; to: number; difference: number };
  /** The triggers the agent and `oscd status` use: kernel, initrd, kernel-modules, kernel-params. */
  reboot: RebootNeed;
}

/**
 * Compares two realised toplevels: packages by name and version over their closures (the
 * toplevels themselves left out: their names are the host's), closure sizes, and whether the
 * new one needs a reboot compared with the old one, by the same rule as a booted system.
 * For deploy and the agent: call this with the running system and the candidate.
 */
export async function diffSystems(from: string, to: string, nix: NixCallOptions = {}): Promise<SystemDiff> {
  const [a, b] = await Promise.all([closure([from], nix), closure([to], nix)]);
  const infos = await pathInfo(from === to ? [from] : [from, to], { ...nix, closureSize: true });
  const size = new Map(infos.map((i) => [i.path, i.closureSize ?? 0]));
  const fromSize = size.get(from) ?? 0;
  const toSize = size.get(to) ?? 0;
  return {
    from,
    to,
    changed: from !== to,
    packages: packageDiff(
      a.filter((p) => p !== from),
      b.filter((p) => p !== to),
    ),
    closureSize: { from: fromSize, to: toSize, difference: toSize - fromSize },
    reboot: from === to ? { needed: false, reasons: [] } : await rebootNeeded(to, from),
  };
}
