import { readdir, rm } from "node:fs/promises";
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { readLinkOrUndefined } from "../core/fs.js";
import { retentionActive, type RetentionPolicy } from "../fleet/index.js";
import { collectGarbage, currentGeneration, deleteGenerations, listGenerations, removeRoot, type GcResult, type Generation } from "../nix/index.js";
import { files, type HostLayout } from "./layout.js";
import { switchTo } from "./switch.js";
import { compactRange } from "./ranges.js";

/**
 * Generation retention, the engine's step after every committed deployment and `oscd gc`:
 * old system generations go (profile links, oscd's records, their source roots, and their boot
 * entries, through the current system's own `switch-to-configuration boot`, which writes entries
 * only for the generations that still exist, as NixOS's installers do), then optionally a
 * garbage collection bounded by size or time.
 */

export type KeepReason = "current" | "running" | "booted" | "previous" | "newest" | "recent";

export interface GenerationFate {
  generation: number;
  toplevel: string;
  createdAt: string;
  /** Why it stays; empty: it goes. */
  keep: KeepReason[];
}

/** Source snapshots (`source-<commit>`) a machine keeps besides those of its generations. */
export const KEEP_SOURCE_ROOTS = 3;

/**
 * Which generations a policy keeps (pure). Protected generations (the profile's current one,
 * the running and booted systems' newest generations, and previous-good: the newest generation
 * below the current one with another system, which `oscd rollback` goes to) always stay and fill
 * the first of the `keepGenerations` places; the newest others fill the rest. `keepDays` keeps
 * every generation younger than that on top.
 */
export function planRetention(gens: readonly Generation[], policy: RetentionPolicy, facts: { running?: string; booted?: string; now: Date }): GenerationFate[] {
  const byNumber = [...gens].sort((a, b) => a.number - b.number);
  const reasons = new Map<number, KeepReason[]>(byNumber.map((g) => [g.number, []]));
  const add = (n: number | undefined, r: KeepReason) => {
    if (n !== undefined) reasons.get(n)?.push(r);
  };
  const newestWith = (path: string | undefined) => (path === undefined ? undefined : [...byNumber].reverse().find((g) => g.storePath === path)?.number);
  const current = byNumber.find((g) => g.current);
  add(current?.number, "current");
  add(newestWith(facts.running), "running");
  add(newestWith(facts.booted), "booted");
  if (current) add([...byNumber].reverse().find((g) => g.number < current.number && g.storePath !== current.storePath)?.number, "previous");
  if (!retentionActive(policy)) {
    for (const g of byNumber) add(g.number, "newest");
  } else {
    if (policy.keepGenerations !== undefined) {
      let room = policy.keepGenerations - byNumber.filter((g) => (reasons.get(g.number) ?? []).length > 0).length;
      for (const g of [...byNumber].reverse()) {
        if (room <= 0) break;
        if ((reasons.get(g.number) ?? []).length > 0) continue;
        add(g.number, "newest");
        room--;
      }
    }
    if (policy.keepDays !== undefined) {
      const cutoff = facts.now.getTime() - policy.keepDays * 24 * 3600_000;
      for (const g of byNumber) if (g.createdAt.getTime() >= cutoff) add(g.number, "recent");
    }
  }
  return byNumber.map((g) => ({ generation: g.number, toplevel: g.storePath, createdAt: g.createdAt.toISOString(), keep: reasons.get(g.number) ?? [] }));
}

export interface RetentionResult {
  /** Generations removed (profile link, record, source root, boot entry). */
  removed: number[];
  kept: number;
  /** Records and source roots of generations that were already gone. */
  staleCleaned: number;
  /** Source snapshot roots (`source-*`) dropped beyond the newest KEEP_SOURCE_ROOTS. */
  sourceRootsRemoved: string[];
  /** The system whose `switch-to-configuration boot` rewrote the boot entries. */
  bootEntriesFrom?: string;
  gc?: GcResult;
}

export interface RetentionOptions {
  now?: Date;
  /** Garbage collection after removing: overrides the policy's `collectGarbage`/`maxFreedMiB`. */
  gc?: { maxFreedBytes?: number; timeLimitMs?: number } | false;
  switchTimeoutMs?: number;
  log?: (line: string) => void;
}

/** What `oscd generations --dry-run` and `oscd gc --dry-run` show: every generation's fate. */
export async function retentionPlan(layout: HostLayout, policy: RetentionPolicy, now = new Date()): Promise<GenerationFate[]> {
  const f = files(layout);
  const [gens, running, booted] = await Promise.all([listGenerations(layout.profile), readLinkOrUndefined(f.currentSystem), readLinkOrUndefined(f.bootedSystem)]);
  return planRetention(gens, policy, { running, booted, now });
}

/**
 * Applies the policy now. The caller holds the host lock (the engine after a commit, `oscd gc`).
 * Idempotent and safe to interrupt: a generation deleted before its record is cleaned up by the
 * next run (records and roots of missing generations are stale), and the boot entries are
 * rewritten whenever anything was removed.
 */
export async function applyRetention(layout: HostLayout, policy: RetentionPolicy, opts: RetentionOptions = {}): Promise<RetentionResult> {
  const log = opts.log ?? (() => undefined);
  const plan = await retentionPlan(layout, policy, opts.now);
  const cur = await currentGeneration(layout.profile);
  // The current generation is never deleted (nix-env refuses it too).
  const doomed = plan.filter((p) => p.keep.length === 0 && p.generation !== cur?.number).map((p) => p.generation);
  if (doomed.length > 0) {
    log(`removing generation(s) ${compactRange(doomed)}`);
    await deleteGenerations({ numbers: doomed }, layout.profile);
  }
  const live = new Set((await listGenerations(layout.profile)).map((g) => g.number));
  const staleCleaned = await dropStale(layout, live);
  const sourceRootsRemoved = await dropOldSourceRoots(layout);
  let bootEntriesFrom: string | undefined;
  if ((doomed.length > 0 || staleCleaned > 0) && cur) {
    // The bootloader installer of the current system lists the generations that exist now and
    // removes the entries of the others (systemd-boot-builder, GRUB's installer).
    log(`boot entries rewritten by ${cur.storePath}/bin/switch-to-configuration boot`);
    await switchTo(cur.storePath, "boot", files(layout).switchHold, { timeoutMs: opts.switchTimeoutMs, onLine: log });
    bootEntriesFrom = cur.storePath;
  }
  const gcWanted = opts.gc !== undefined ? opts.gc : policy.collectGarbage ? { maxFreedBytes: policy.maxFreedMiB !== undefined ? policy.maxFreedMiB * 1024 * 1024 : undefined } : false;
  let gc: GcResult | undefined;
  if (gcWanted) {
    log(`collecting garbage${gcWanted.maxFreedBytes !== undefined ? ` (at most ${Math.round(gcWanted.maxFreedBytes / 1048576)} MiB)` : ""}`);
    gc = await collectGarbage({ maxFreedBytes: gcWanted.maxFreedBytes, timeLimitMs: gcWanted.timeLimitMs });
  }
  return { removed: doomed, kept: live.size, staleCleaned, sourceRootsRemoved, bootEntriesFrom, gc };
}

/** Records and `generation-<N>-source` roots of generations that no longer exist. */
async function dropStale(layout: HostLayout, live: ReadonlySet<number>): Promise<number> {
  let n = 0;
  const dir = files(layout).generations;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = /^(\d+)\.json$/.exec(name);
    if (m && !live.has(Number(m[1]))) {
      await rm(join(dir, name), { force: true });
      n++;
    }
  }
  for (const name of await readdir(layout.gcrootDir).catch(() => [] as string[])) {
    const m = /^generation-(\d+)-source$/.exec(name);
    if (m && !live.has(Number(m[1]))) {
      await removeRoot(name, layout.gcrootDir);
      n++;
    }
  }
  return n;
}

/**
 * `source-<commit>` roots that upgrades and the agent's git source take for each snapshot they
 * build: once a generation is committed its own `generation-<N>-source` root holds its source,
 * so only the newest few (a build in progress among them) are kept.
 */
async function dropOldSourceRoots(layout: HostLayout): Promise<string[]> {
  const names = (await readdir(layout.gcrootDir).catch(() => [] as string[])).filter((n) => /^source-[A-Za-z0-9._+-]+$/.test(n));
  if (names.length <= KEEP_SOURCE_ROOTS) return [];
  const dated = names.map((n) => ({ n, t: mtimeOf(join(layout.gcrootDir, n)) })).sort((a, b) => b.t - a.t);
  const gone = dated.slice(KEEP_SOURCE_ROOTS).map((d) => d.n);
  for (const n of gone) await removeRoot(n, layout.gcrootDir);
  return gone;
}

function mtimeOf(p: string): number {
  try {
    return lstatSync(p).mtimeMs;
  } catch {
    return 0;
  }
}
