import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { OscdError } from "../core/errors.js";
import { ensureMirror, fetch, headCommit, isDirty, latestReleaseTag, listReleaseTags, resolveCommit, type GitCallOptions } from "../git/index.js";
import { loadFleet } from "../fleet/index.js";
import { snapshotCommit, snapshotWorkingTree, type Snapshot } from "./snapshot.js";
import { describeSpec, type SourceSpec } from "./spec.js";

export interface PrepareOptions {
  /** The fleet repository: URL or path. Not needed for a local tree. */
  remote?: string;
  /** Bare mirror of the remote kept between runs (e.g. /var/lib/oscd/repo.git). */
  mirrorDir: string;
  /** Release tag prefix when the fleet file is not read yet (default "v"). */
  tagPrefix?: string;
  /** Directory of GC roots (default /nix/var/nix/gcroots/oscd). */
  rootDir?: string;
  git?: GitCallOptions;
  /**
   * The caller has just fetched `remote`'s branches and tags into `mirrorDir` (the pull agent,
   * which fetches to see the heads anyway): the mirror is used as it is, not fetched again.
   */
  fetched?: boolean;
}

/** Exactly what will be built: a commit, how it was named, and its read-only snapshot. */
export interface PinnedSource {
  spec: SourceSpec;
  commit: string;
  /** How the user named it: the tag, the branch, the commit id, or `local`. */
  ref: string;
  tag?: string;
  /** Content of the fleet's version file in this snapshot, when it has one. */
  version?: string;
  /** A local tree with uncommitted changes. */
  dirty: boolean;
  remote?: string;
  snapshot: Snapshot;
  /** Name of the snapshot's GC root. */
  rootName: string;
}

export class NoReleaseError extends OscdError {
  constructor(remote: string, prefix: string) {
    super("no-release", `${remote} has no release tags (${prefix}X.Y.Z)`, {
      hint: "tag a release (oscd release bump patch --push), or name a --branch, --tag or --commit",
    });
  }
}

/** What a source mirror holds of its remote: every branch and every tag. */
export const MIRROR_REFSPECS = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"];

/**
 * Resolves a source spec to one exact commit and puts a read-only snapshot of it into the Nix
 * store, rooted (RFC R1, R2.3: this step changes nothing on the machine but the store).
 * Fetching happens in a bare mirror, never in a checkout anyone works in.
 */
export async function prepareSource(spec: SourceSpec, opts: PrepareOptions): Promise<PinnedSource> {
  if (spec.kind === "local") return prepareLocal(spec.path, opts);
  const remote = opts.remote;
  if (!remote) throw new OscdError("no-remote", `no fleet repository is configured to fetch ${describeSpec(spec)} from`, { hint: "set fleet.remote in the machine's oscd configuration or pass --remote", exitCode: 2 });
  const mirror = opts.mirrorDir;
  if (!opts.fetched) {
    await ensureMirror(mirror, [{ name: "origin", url: remote }], { ...opts.git, removeOthers: true });
    await fetch(mirror, "origin", { ...opts.git, tags: true, prune: true, refspecs: MIRROR_REFSPECS });
  }
  const prefix = opts.tagPrefix ?? "v";
  let commit: string;
  let ref: string;
  let tag: string | undefined;
  switch (spec.kind) {
    case "latest": {
      const latest = await latestReleaseTag(mirror, prefix, opts.git);
      if (!latest) throw new NoReleaseError(remote, prefix);
      commit = latest.commit;
      ref = tag = latest.name;
      break;
    }
    case "tag":
      commit = await resolveCommit(mirror, `refs/tags/${spec.tag}`, opts.git);
      ref = tag = spec.tag;
      break;
    case "branch":
      commit = await resolveCommit(mirror, `refs/remotes/origin/${spec.branch}`, opts.git);
      ref = spec.branch;
      break;
    case "commit": {
      const [resolved, tags] = await Promise.all([resolveCommit(mirror, spec.commit, opts.git), listReleaseTags(mirror, prefix, opts.git)]);
      commit = ref = resolved;
      tag = tags.filter((t) => t.commit === resolved).pop()?.name;
      break;
    }
  }
  const rootName = `source-${commit}`;
  const snapshot = await snapshotCommit(mirror, commit, rootName, opts.rootDir);
  return { spec, commit, ref, tag, version: await readVersion(snapshot.storePath), dirty: false, remote, snapshot, rootName };
}

async function prepareLocal(path: string, opts: PrepareOptions): Promise<PinnedSource> {
  let commit = "0".repeat(40);
  let dirty = true;
  try {
    commit = await headCommit(path, opts.git);
    dirty = await isDirty(path, opts.git);
  } catch {
    // Not a git repository: a plain directory is snapshotted as it is.
  }
  const label = `${commit.slice(0, 12)}${dirty ? "-dirty" : ""}`;
  const rootName = `source-local-${label}-${Date.now()}`;
  const snapshot = await snapshotWorkingTree(path, label, rootName, opts.rootDir);
  return { spec: { kind: "local", path }, commit, ref: "local", dirty, snapshot, rootName, version: await readVersion(snapshot.storePath) };
}

async function readVersion(tree: string): Promise<string | undefined> {
  try {
    const fleet = await loadFleet(tree);
    return (await readFile(join(tree, fleet.config.release.versionFile), "utf8")).trim() || undefined;
  } catch {
    return undefined;
  }
}
