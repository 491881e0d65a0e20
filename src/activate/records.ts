import { readdir } from "node:fs/promises";
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
    names = await readdir(dir);
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
    names = (await readdir(files(layout).history)).filter((n) => n.endsWith(".json"));
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
