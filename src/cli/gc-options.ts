import type { Command } from "commander";
import { UsageError } from "../core/errors.js";

/** `--max-freed`: bytes, or a whole number with K, M, G or T (binary units, as Nix reads them). */
export function parseSize(text: string): number {
  const m = /^([0-9]{1,15})([KMGT]?)i?B?$/i.exec(text.trim());
  const mult: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
  const n = m ? Number(m[1]) * (mult[(m[2] as string).toUpperCase()] as number) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${JSON.stringify(text.slice(0, 40))} is not a size`, "e.g. --max-freed 2G, 512M or a number of bytes", "bad-size");
  return n;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 24 * 3_600_000, w: 7 * 24 * 3_600_000 };

/** `--older-than 14d`, `--time-limit 10m`: a whole number and s, m, h, d or w. */
export function parseDuration(text: string, flag: string): number {
  const m = /^([0-9]{1,7})([smhdw])$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag} ${JSON.stringify(text.slice(0, 40))} is not a duration`, `e.g. ${flag} 30m, 12h or 14d`, "bad-duration");
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

/** The flags `oscd publish --gc` and `oscd update --gc` share with `oscd gc --roots`. */
export function addFinishGcOptions(cmd: Command): Command {
  return cmd
    .option("--gc", "when done, drop old source snapshot roots (keeping the newest 3 and what the channel's newest 5 manifests name) and collect garbage")
    .option("--gc-max-freed <size>", "with --gc: stop collecting once this much is freed (e.g. 10G)");
}

/** `--gc` as a command finishes: old snapshot roots dropped (what `manifestDirs` name kept), then garbage collected. */
export async function finishGc(o: { gc?: boolean; gcMaxFreed?: string; json?: boolean }, where: { rootDir?: string; manifestDirs?: string[] }): Promise<void> {
  if (!o.gc) return;
  const { gcRoots } = await import("../publish/index.js");
  const r = await gcRoots({ rootDir: where.rootDir, manifestDirs: where.manifestDirs, collect: { maxFreedBytes: o.gcMaxFreed !== undefined ? parseSize(o.gcMaxFreed) : undefined } });
  if (!o.json) process.stderr.write(`oscd: gc: ${r.removed.length} old root(s) dropped, ${r.gc?.paths ?? 0} store path(s) (${((r.gc?.freedBytes ?? 0) / 1048576).toFixed(1)} MiB) collected\n`);
}
