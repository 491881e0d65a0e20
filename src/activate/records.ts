import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readJson, writeJsonAtomic } from "../core/atomic.js";
import type { Journal, ReleaseInfo } from "./journal.js";
import { files, type HostLayout } from "./layout.js";

/** What oscd knows of a profile generation it created. */
export interface GenerationRecord extends ReleaseInfo {
  generation: number;
  toplevel: string;
  deploymentId: string;
  mode: string;
  createdAt: string;
}

export async function writeGenerationRecord(layout: HostLayout, rec: GenerationRecord): Promise<void> {
  await writeJsonAtomic(join(files(layout).generations, `${rec.generation}.json`), rec);
}

/** The record of one generation: the engine's guard needs only the current one's. */
export async function readGenerationRecord(layout: HostLayout, generation: number): Promise<GenerationRecord | undefined> {
  return readJson<GenerationRecord>(join(files(layout).generations, `${generation}.json`)).catch(() => undefined);
}

export async function readGenerationRecords(layout: HostLayout): Promise<Map<number, GenerationRecord>> {
  const dir = files(layout).generations;
  const out = new Map<number, GenerationRecord>();
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    const m = /^(\d+)\.json$/.exec(n);
    if (!m) continue;
    const rec = await readJson<GenerationRecord>(join(dir, n)).catch(() => undefined);
    if (rec) out.set(Number(m[1]), rec);
  }
  return out;
}

export interface FailedRelease {
  toplevel: string;
  version?: string;
  commit?: string;
  at: string;
  reason: string;
  /** The code of the failure (`confirm-timeout`, `health-failed`, …), when it had one. */
  code?: string;
}

/** Releases that failed here; not retried automatically (no activation loops). */
export async function readFailed(layout: HostLayout): Promise<FailedRelease[]> {
  return (await readJson<FailedRelease[]>(files(layout).failed)) ?? [];
}

export async function rememberFailed(layout: HostLayout, j: Journal, reason: string): Promise<void> {
  const list = (await readFailed(layout)).filter((f) => f.toplevel !== j.toplevel);
  list.push({ toplevel: j.toplevel, version: j.release.version, commit: j.release.commit, at: new Date().toISOString(), reason, code: j.errorCode });
  await writeJsonAtomic(files(layout).failed, list.slice(-50));
}

export async function forgetFailed(layout: HostLayout, toplevel: string): Promise<void> {
  const list = await readFailed(layout);
  if (list.some((f) => f.toplevel === toplevel)) await writeJsonAtomic(files(layout).failed, list.filter((f) => f.toplevel !== toplevel));
}

/** Finished deployments, newest first. */
export async function readHistory(layout: HostLayout, limit = 50): Promise<Journal[]> {
  let names: string[] = [];
  try {
    names = readdirSync(files(layout).history).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
  names.sort().reverse();
  const out: Journal[] = [];
  for (const n of names.slice(0, limit)) {
    const j = await readJson<Journal>(join(files(layout).history, n)).catch(() => undefined);
    if (j) out.push(j);
  }
  return out;
}

/** The release facts of one finished deployment that replay guards read (journal.ts ReleaseInfo). */
export type HistoryRelease = Pick<ReleaseInfo, "channel" | "sequence" | "epoch">;

/** Per history directory: the release facts of each file read so far, by file name. */
const releasesSeen = new Map<string, Map<string, HistoryRelease>>();

/**
 * The release facts of the newest `limit` finished deployments, newest first. A history file is
 * written once, under its deployment's id, and a journal's release never changes between its
 * states, so each file is read and parsed once per process: a long-running agent asks on every
 * manifest, and the history grows by one file per deployment. The directory itself is listed
 * every time, so files removed since are no longer counted.
 */
export async function historyReleases(layout: HostLayout, limit = 1000): Promise<HistoryRelease[]> {
  const dir = files(layout).history;
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
  names.sort().reverse();
  let seen = releasesSeen.get(dir);
  if (!seen) releasesSeen.set(dir, (seen = new Map()));
  const live = new Set<string>();
  const out: HistoryRelease[] = [];
  for (const n of names.slice(0, limit)) {
    live.add(n);
    let r = seen.get(n);
    if (!r) {
      const j = await readJson<Journal>(join(dir, n)).catch(() => undefined);
      // An unreadable file is read again next time (nothing is remembered for it).
      if (!j) continue;
      const { channel, sequence, epoch } = (j.release ?? {}) as HistoryRelease;
      seen.set(n, (r = { channel, sequence, epoch }));
    }
    out.push(r);
  }
  for (const n of seen.keys()) if (!live.has(n)) seen.delete(n);
  return out;
}
