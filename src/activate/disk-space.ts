import { existsSync, lstatSync, realpathSync } from "node:fs";
import { stat, statfs } from "node:fs/promises";
import { join } from "node:path";
import { GuardError } from "../core/errors.js";
import { generationStorePaths, missingClosureSize, STORE_DIR, type MissingSize } from "../nix/index.js";
import type { HostLayout } from "./layout.js";

/**
 * The disk-space guard: before realising, the NAR sizes of the closure's paths not yet in the
 * store (signed narinfos, or Nix's dry run) against the free space of the store's file system;
 * after realising and before the profile changes, the new kernel and initrd against /boot's free
 * space (only files no existing generation already installed there). Short → `disk-low`, exit 3,
 * with nothing changed on the system.
 */

/** Kept free beyond the need in the store: Nix unpacks into a temporary path first, and SQLite and the logs grow. */
export const STORE_MARGIN_BYTES = 64 * 1024 * 1024;
/** Kept free on /boot beyond the new kernel and initrd (loader entries, a random seed). */
export const BOOT_MARGIN_BYTES = 4 * 1024 * 1024;

export class DiskLowError extends GuardError {
  constructor(where: string, needBytes: number, freeBytes: number, detail: string) {
    super(
      "disk-low",
      `not enough space on ${where}: ${detail} needs ${mib(needBytes)} (with the margin), ${mib(freeBytes)} is free; nothing was changed`,
      "free space first: `oscd gc` removes old generations (retention in machine.toml) and `oscd gc --collect` collects garbage; then deploy again",
    );
  }
}

/** The new system's kernel or initrd could not be measured: the /boot check cannot be made, so it refuses. */
export class BootUncheckedError extends GuardError {
  constructor(file: string, cause: unknown) {
    super(
      "boot-unchecked",
      `cannot measure the new system's ${file} for the /boot space check (${cause instanceof Error ? cause.message : String(cause)}); nothing was changed`,
      "check that the new system's kernel and initrd links lead to files in the store (`ls -lL <toplevel>/kernel`); realise it again if they do not",
    );
  }
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

export async function freeBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}

export interface StoreSpaceCheck {
  need?: MissingSize;
  freeBytes: number;
}

/** Before realising: refuses when the missing part of the closure does not fit the store. */
export async function checkStoreSpace(toplevel: string, opts: { substituters?: readonly string[]; trustedPublicKeys?: readonly string[]; storeDir?: string }): Promise<StoreSpaceCheck> {
  const need = await missingClosureSize(toplevel, { substituters: opts.substituters, trustedPublicKeys: opts.trustedPublicKeys });
  const free = await freeBytes(opts.storeDir ?? STORE_DIR);
  if (need && need.narBytes > 0 && need.narBytes + STORE_MARGIN_BYTES > free) {
    throw new DiskLowError(opts.storeDir ?? STORE_DIR, need.narBytes + STORE_MARGIN_BYTES, free, `${need.paths} path(s) of the new system (${mib(need.narBytes)} unpacked)`);
  }
  return { need, freeBytes: free };
}

/**
 * After realising, before the profile: the boot loader copies the kernel and initrd of each
 * generation to /boot (systemd-boot; GRUB on a separate /boot too), once per distinct file. Files
 * an existing generation already has are there already.
 */
export async function checkBootSpace(toplevel: string, layout: HostLayout, bootDir = "/boot"): Promise<{ needBytes: number; freeBytes: number } | undefined> {
  let free: number;
  try {
    free = await freeBytes(bootDir);
  } catch {
    return undefined; // no /boot of its own to fill (a container, netboot)
  }
  const installed = new Set<string>();
  for (const p of generationStorePaths(layout.profile)) for (const f of bootFiles(p)) installed.add(f);
  let need = 0;
  for (const f of bootFiles(toplevel, true)) if (!installed.has(f)) need += (await stat(f)).size;
  if (need > 0 && need + BOOT_MARGIN_BYTES > free) throw new DiskLowError(bootDir, need + BOOT_MARGIN_BYTES, free, "the new kernel and initrd");
  return { needBytes: need, freeBytes: free };
}

/**
 * The kernel and initrd files of each toplevel already resolved, by store path. A store path
 * never changes once valid, so neither do its links: each deployment resolves only the new
 * system's, not again every generation's (realpath walks each link's path component by
 * component, and a long-lived host has hundreds of generations).
 */
const resolved = new Map<string, string[]>();
const RESOLVED_MAX = 4096;

function linkAbsent(path: string): boolean {
  try {
    lstatSync(path);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT";
  }
}

/**
 * `strict` for the system being deployed: its files must be measured, so anything but a link
 * it does not have (a toplevel without an initrd) is an error, never a check passed unmade.
 */
function bootFiles(toplevel: string, strict = false): string[] {
  const known = resolved.get(toplevel);
  if (known) return known;
  const out: string[] = [];
  let whole = true;
  for (const name of ["kernel", "initrd"]) {
    try {
      out.push(realpathSync.native(join(toplevel, name)));
    } catch (e) {
      const absent = existsSync(toplevel) && linkAbsent(join(toplevel, name));
      if (strict && !absent) throw new BootUncheckedError(name, e);
      // A toplevel without an initrd is what it is; a system that is gone, a link whose target
      // is, or an error reading it, is looked at again next time.
      if (!absent) whole = false;
    }
  }
  if (whole && toplevel.startsWith(`${STORE_DIR}/`)) {
    if (resolved.size >= RESOLVED_MAX) resolved.clear();
    resolved.set(toplevel, out);
  }
  return out;
}
