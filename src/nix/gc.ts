import { CommandTimeoutError } from "../core/errors.js";
import { nixRun, NixCommandError, type NixCallOptions } from "./command.js";

export interface GcResult {
  /** Store paths Nix deleted. */
  paths: number;
  /** Bytes Nix says it freed (as precise as its message: 0.01 MiB in Nix 2.8). */
  freedBytes: number;
  /** The time limit ended the collection early: what was deleted stays deleted. */
  stoppedByTimeLimit: boolean;
}

const UNIT: Record<string, number> = { B: 1, bytes: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

/**
 * Nix's closing line of a collection: `7 store paths deleted, 1.25 MiB freed` (2.8 prints
 * `%.2f MiB`; newer Nix and Lix pick the unit, `312.0 KiB`, `1.2 GiB`). Undefined if absent.
 */
export function parseGcSummary(text: string): { paths: number; freedBytes: number } | undefined {
  const m = /(\d+) store paths? deleted, ([\d.]+) ?(B|bytes|KiB|MiB|GiB|TiB) freed/.exec(text);
  if (!m) return undefined;
  return { paths: Number(m[1]), freedBytes: Math.round(Number(m[2]) * (UNIT[m[3] as string] ?? 1)) };
}

/**
 * Nix's garbage collector (`nix-store --gc`), optionally bounded: `maxFreedBytes` stops it once
 * that much is freed (`--max-freed`), `timeLimitMs` stops it after that long. Nix deletes path by
 * path, each in its own transaction, so a collection stopped early leaves a whole store.
 */
export async function collectGarbage(opts: NixCallOptions & { maxFreedBytes?: number; timeLimitMs?: number } = {}): Promise<GcResult> {
  const { maxFreedBytes, timeLimitMs, ...nix } = opts;
  const args = ["--gc", ...(maxFreedBytes !== undefined ? ["--max-freed", String(Math.max(1, Math.floor(maxFreedBytes)))] : [])];
  let r;
  try {
    r = await nixRun("nix-store", args, { ...nix, timeoutMs: timeLimitMs ?? nix.timeoutMs ?? 60 * 60_000 });
  } catch (e) {
    if (e instanceof CommandTimeoutError && timeLimitMs !== undefined) {
      const s = parseGcSummary(e.stderrTail);
      return { paths: s?.paths ?? 0, freedBytes: s?.freedBytes ?? 0, stoppedByTimeLimit: true };
    }
    throw e;
  }
  if (r.exitCode !== 0) throw new NixCommandError("nix-gc-failed", r, "collecting garbage (nix-store --gc)");
  const s = parseGcSummary(`${r.stdout}\n${r.stderr}`);
  return { paths: s?.paths ?? 0, freedBytes: s?.freedBytes ?? 0, stoppedByTimeLimit: false };
}
