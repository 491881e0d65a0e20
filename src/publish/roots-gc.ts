import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { collectGarbage, GCROOTS_DIR, removeRoot, type GcResult } from "../nix/index.js";
import { parseManifest, type Manifest } from "../manifest/index.js";

/**
 * Retention of a build machine's GC roots (`oscd gc --roots`, `oscd publish --gc`, `oscd update
 * --gc`). Every build, publish, diff, impact and update roots its source snapshot
 * (`source-<commit>`) and its results (`build-<fleet>-<host>`, `update-check-*`,
 * `inspect/inspect-*`); without this a CI runner's store only grows. Roots the engine keeps on a
 * machine (`generation-*`, `pending-*`, `test-*`, `agent-check`) and names oscd does not know
 * are never touched.
 */

export interface RootsGcOptions {
  rootDir?: string;
  /** Source snapshots kept, newest first (default 3). */
  keepSources?: number;
  /** Also drop result roots (build, check, inspect) older than this; default: keep them (one per host). */
  olderThanMs?: number;
  /** Directories of signed channel history (`<channel>.<sequence>.json`): what they name is kept. */
  manifestDirs?: readonly string[];
  /** Newest manifests per channel whose systems and commits are kept (default 5). */
  keepSequences?: number;
  dryRun?: boolean;
  /** Collect garbage afterwards (bounded). */
  collect?: { maxFreedBytes?: number; timeLimitMs?: number };
  now?: Date;
}

export type RootKind = "source" | "build" | "check" | "inspect";

export interface RootFate {
  name: string;
  kind: RootKind;
  target?: string;
  ageMs: number;
  /** Why it stays; empty: it goes. */
  keep: string[];
}

export interface RootsGcReport {
  roots: RootFate[];
  removed: string[];
  /** Manifests read (channel and sequence) whose systems and commits were kept. */
  manifests: string[];
  gc?: GcResult;
}

const HISTORY = /^([A-Za-z0-9][A-Za-z0-9_-]*)\.(0|[1-9]\d{0,15})\.json$/;

function kindOf(name: string): RootKind | undefined {
  if (/^source-[A-Za-z0-9._+-]+$/.test(name)) return "source";
  if (/^build-[A-Za-z0-9._+-]+$/.test(name)) return "build";
  if (/^update-check-[A-Za-z0-9._+-]+$/.test(name)) return "check";
  if (/^inspect\/inspect-[A-Za-z0-9._+-]+$/.test(name)) return "inspect";
  return undefined;
}

/** Store paths and commits the newest `keep` manifests of each channel in the directories name. */
export async function namedByManifests(dirs: readonly string[], keep: number): Promise<{ paths: Set<string>; commits: Set<string>; read: string[] }> {
  const paths = new Set<string>();
  const commits = new Set<string>();
  const read: string[] = [];
  for (const dir of dirs) {
    const byChannel = new Map<string, number[]>();
    for (const n of await readdir(dir).catch(() => [] as string[])) {
      const m = HISTORY.exec(n);
      if (m) byChannel.set(m[1] as string, [...(byChannel.get(m[1] as string) ?? []), Number(m[2])]);
    }
    for (const [channel, seqs] of byChannel) {
      let taken = 0;
      for (const seq of seqs.sort((a, b) => b - a)) {
        if (taken >= keep) break;
        let m: Manifest;
        try {
          // Not verified: a manifest here can only make more roots stay, never fewer.
          m = parseManifest(await readFile(join(dir, `${channel}.${seq}.json`), "utf8"), `${channel}.${seq}.json`);
        } catch {
          continue;
        }
        // A damaged file is not one of the newest manifests: the next one counts instead.
        taken++;
        read.push(`${m.channel}#${m.sequence}`);
        commits.add(m.commit);
        for (const h of Object.values(m.hosts)) {
          paths.add(h.toplevel);
          for (const img of Object.values(h.images ?? {})) paths.add(img.path);
          if (h.netboot) for (const f of [h.netboot.kernel, h.netboot.initrd]) paths.add(f.path);
        }
      }
    }
  }
  return { paths, commits, read };
}

async function listRoots(rootDir: string): Promise<{ name: string; target?: string; mtimeMs: number }[]> {
  const out: { name: string; target?: string; mtimeMs: number }[] = [];
  const scan = async (sub: string) => {
    for (const n of await readdir(join(rootDir, sub)).catch(() => [] as string[])) {
      const name = sub ? `${sub}/${n}` : n;
      const st = await lstat(join(rootDir, name)).catch(() => undefined);
      if (!st?.isSymbolicLink()) continue;
      out.push({ name, target: await readlink(join(rootDir, name)).catch(() => undefined), mtimeMs: st.mtimeMs });
    }
  };
  await scan("");
  await scan("inspect");
  return out;
}

export async function planRootsGc(opts: RootsGcOptions = {}): Promise<{ roots: RootFate[]; manifests: string[] }> {
  const rootDir = opts.rootDir ?? GCROOTS_DIR;
  const now = (opts.now ?? new Date()).getTime();
  const named = await namedByManifests(opts.manifestDirs ?? [], opts.keepSequences ?? 5);
  const roots: RootFate[] = [];
  for (const r of await listRoots(rootDir)) {
    const kind = kindOf(r.name);
    if (!kind) continue;
    const keep: string[] = [];
    if (r.target && named.paths.has(r.target)) keep.push("named by a manifest");
    const commit = /^source-([0-9a-f]{40})$/.exec(r.name)?.[1];
    if (commit && named.commits.has(commit)) keep.push("commit of a manifest");
    if (opts.olderThanMs !== undefined && now - r.mtimeMs < opts.olderThanMs) keep.push("recent");
    roots.push({ name: r.name, kind, target: r.target, ageMs: Math.max(0, now - r.mtimeMs), keep });
  }
  // Snapshots: the newest few stay (a build may be using one now).
  roots
    .filter((r) => r.kind === "source")
    .sort((a, b) => a.ageMs - b.ageMs)
    .slice(0, opts.keepSources ?? 3)
    .forEach((r) => r.keep.push("newest"));
  // Results: one root per host or check, replaced by each build; they go only when old.
  if (opts.olderThanMs === undefined) for (const r of roots) if (r.kind !== "source") r.keep.push("latest result");
  return { roots: roots.sort((a, b) => a.name.localeCompare(b.name)), manifests: named.read };
}

export async function gcRoots(opts: RootsGcOptions = {}): Promise<RootsGcReport> {
  const rootDir = opts.rootDir ?? GCROOTS_DIR;
  const { roots, manifests } = await planRootsGc(opts);
  const removed = roots.filter((r) => r.keep.length === 0).map((r) => r.name);
  if (opts.dryRun) return { roots, removed, manifests };
  for (const name of removed) await removeRoot(name, rootDir);
  const gc = opts.collect ? await collectGarbage({ maxFreedBytes: opts.collect.maxFreedBytes, timeLimitMs: opts.collect.timeLimitMs }) : undefined;
  return { roots, removed, manifests, gc };
}
