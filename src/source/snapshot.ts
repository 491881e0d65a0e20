import { cp, lstat, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { run } from "../core/exec.js";
import { archiveCommit } from "../git/index.js";
import { addedPathOf, addRoot, addToStore, narHashOf, pathInfo } from "../nix/index.js";

/**
 * A read-only copy of exactly one source tree in the Nix store (RFC R1, R1.2): nothing a
 * developer does in a checkout can change it, and it stays as long as its GC root.
 */
export interface Snapshot {
  storePath: string;
  /** The flake reference that evaluates exactly this snapshot, locked by its NAR hash. */
  flakeRef: string;
}

async function withTemp<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "oscd-source-"));
  try {
    return await f(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function intoStore(tree: string, rootName: string, rootDir?: string): Promise<Snapshot> {
  // The tree is hashed here while Nix adds it (a second core), not after.
  const [storePath, mine] = await Promise.all([addToStore(tree), narHashOf(tree).catch(() => undefined)]);
  await addRoot(storePath, rootName, rootDir);
  return { storePath, flakeRef: flakeRefOf(storePath, await narHashOfAdded(mine, tree, storePath)) };
}

/**
 * The NAR hash of what `nix-store --add` just stored, hashed here from the same tree (saves a
 * Nix start). The store path is a function of that hash, so it is used only when it gives the
 * path Nix printed; otherwise (another store directory, a tree that changed meanwhile) Nix says.
 */
async function narHashOfAdded(mine: string | undefined, tree: string, storePath: string): Promise<string> {
  if (mine && addedPathOf(mine, basename(tree), dirname(storePath)) === storePath) return mine;
  const [info] = await pathInfo([storePath]);
  return info?.narHash ?? "";
}

function flakeRefOf(storePath: string, narHash: string): string {
  return narHash.startsWith("sha256-") ? `path:${storePath}?narHash=${encodeURIComponent(narHash)}` : `path:${storePath}`;
}

/** Snapshots one commit of a repository (git archive of that commit, no .git). */
export async function snapshotCommit(repo: string, commit: string, rootName: string, rootDir?: string): Promise<Snapshot> {
  return withTemp(async (tmp) => {
    const tree = join(tmp, `oscd-source-${commit.slice(0, 12)}`);
    await archiveCommit(repo, commit, tree);
    return intoStore(tree, rootName, rootDir);
  });
}

/**
 * Snapshots a working tree as it is now, uncommitted changes included (RFC's "local"
 * prototyping). Files git ignores and `.git` are left out; outside git, everything but `.git`.
 */
export async function snapshotWorkingTree(path: string, label: string, rootName: string, rootDir?: string): Promise<Snapshot> {
  return withTemp(async (tmp) => {
    const tree = join(tmp, `oscd-source-${label}`);
    await mkdir(tree);
    const files = await listWorkingTree(path);
    for (const f of files) {
      await mkdir(dirname(join(tree, f)), { recursive: true });
      await cp(join(path, f), join(tree, f), { verbatimSymlinks: true, preserveTimestamps: false });
    }
    return intoStore(tree, rootName, rootDir);
  });
}

async function listWorkingTree(path: string): Promise<string[]> {
  const r = await run("git", ["-C", path, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], { timeoutMs: 60_000 });
  if (r.exitCode === 0) {
    const files = r.stdout.split("\0").filter(Boolean);
    // ls-files lists deleted-but-tracked files too; a snapshot holds what is on disk.
    const present: string[] = [];
    for (const f of files) {
      try {
        await lstat(join(path, f));
        present.push(f);
      } catch {
        /* deleted in the working tree */
      }
    }
    return present;
  }
  return walk(path, "");
}

async function walk(root: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    if (e.name === ".git") continue;
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(root, p)));
    else out.push(p);
  }
  return out;
}
