import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { OscdError, UsageError } from "../core/errors.js";
import { FLEET_FILE, loadFleet, type Fleet } from "../fleet/index.js";
import { warnUser } from "../core/warnings.js";
import { changedPaths, currentBranch, ensureMirror, fetch, GitUnknownRefError, headCommit, isDirty, type GitCallOptions } from "../git/index.js";
import type { NixSource } from "../nix/index.js";
import { prepareSource, type PinnedSource, type SourceSpec } from "../source/index.js";

export interface PinOptions {
  /** The fleet repository: a path (default the current directory) or a git URL. */
  repo?: string;
  /** A tag, branch or commit; default: HEAD of a local repository. */
  ref?: string;
  /** Where oscd keeps its mirror of the repository (see defaultStateDir). */
  stateDir?: string;
  /** GC root directory for the source snapshot (default /nix/var/nix/gcroots/oscd). */
  rootDir?: string;
  git?: GitCallOptions;
}

/** The source pinned to one commit, its fleet file, and how Nix evaluates it. */
export interface PinnedFleet {
  source: PinnedSource;
  fleet: Fleet;
  nixSource: NixSource;
  /** The repository as given (absolute path or URL). */
  repo: string;
  /** The local checkout had uncommitted changes, which are not part of what is built. */
  uncommittedChanges: boolean;
  /**
   * The files that define the fleet (oscd.toml, flake.nix, flake.lock) that differ in the local
   * checkout from the commit built, untracked ones included; a warning has said so.
   */
  uncommittedFleetFiles: string[];
}

/** The files whose uncommitted changes a user most expects to be built, and are not. */
export const FLEET_DEFINING_FILES = [FLEET_FILE, "flake.nix", "flake.lock"] as const;

/**
 * `$XDG_CACHE_HOME/oscd`, else `~/.cache/oscd`: a build machine's state is a cache (a git
 * mirror of the fleet repository), safe to delete. Root uses /root/.cache/oscd, so a CI job
 * and a machine's own /var/lib/oscd never share a mirror.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith("/") ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  return join(base, "oscd");
}

function isUrl(repo: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/\s]+@[^/\s]+:/.test(repo);
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

export function mirrorDirFor(stateDir: string, repo: string): string {
  const id = createHash("sha256").update(repo).digest("hex").slice(0, 16);
  return join(stateDir, "mirrors", `${id}.git`);
}

/**
 * Pins the fleet repository to one exact commit with the same source preparation as
 * `oscd upgrade` (bare mirror, `git archive` of that commit into the Nix store, rooted), and
 * reads the fleet file from that snapshot, so what is built is exactly that commit.
 * `ref` may name a tag (preferred when both exist), a branch or a commit, or be a full ref
 * name (`refs/tags/v1.2.0`, `refs/heads/main`, as CI passes `$GITHUB_REF`).
 */
export async function pinFleet(opts: PinOptions = {}): Promise<PinnedFleet> {
  const given = opts.repo ?? ".";
  const url = isUrl(given);
  const repo = url ? given : resolve(given);
  if (!url && !(await isDirectory(repo))) throw new UsageError(`the fleet repository ${repo} does not exist`, "run oscd in a checkout of the fleet repository, or pass --repo PATH_OR_URL");
  const mirrorDir = mirrorDirFor(opts.stateDir ?? defaultStateDir(), repo);
  const prep = { remote: repo, mirrorDir, rootDir: opts.rootDir, git: opts.git };
  let source: PinnedSource;
  let uncommittedChanges = false;
  let uncommittedFleetFiles: string[] = [];
  if (opts.ref === undefined) {
    if (url) throw new UsageError(`name what to build from ${repo} with --ref`, "e.g. --ref main, --ref v1.2.0 or --ref <commit>; without --ref oscd builds HEAD of a local checkout");
    const head = await headCommit(repo, opts.git);
    const branch = await currentBranch(repo, opts.git);
    uncommittedChanges = await isDirty(repo, { ...opts.git, untracked: false });
    uncommittedFleetFiles = await changedPaths(repo, FLEET_DEFINING_FILES, opts.git);
    // The fleet file is read from the commit, not from the working tree: the change the user
    // just made (caches, keys, a host) is not what this command uses.
    if (uncommittedFleetFiles.length > 0) {
      warnUser(`${uncommittedFleetFiles.join(", ")} in ${repo} differ from commit ${head.slice(0, 12)}: uncommitted changes are not built (oscd reads the fleet from the commit); commit them first`);
    }
    if (branch === undefined) {
      // A detached HEAD on no branch (CI checkouts) is not fetched with the branches: fetch it by name.
      await ensureMirror(mirrorDir, [{ name: "origin", url: repo }], { ...opts.git, removeOthers: true });
      await fetch(mirrorDir, "origin", { ...opts.git, tags: false, refspecs: ["+HEAD:refs/oscd/head"] });
    }
    source = await prepareSource({ kind: "commit", commit: head }, prep);
    // Named the way the checkout names it: a release tag, else its branch, else the commit.
    source = { ...source, ref: source.tag ?? branch ?? head };
  } else {
    source = await pinRef(opts.ref, prep);
  }
  return { ...(await pinnedFleetOf(source, repo, uncommittedChanges)), uncommittedFleetFiles };
}

/**
 * A source already pinned (e.g. by `oscd upgrade`'s own source step) as the build stage's
 * input: the fleet file read from the snapshot, and how Nix evaluates the snapshot.
 */
export async function pinnedFleetOf(source: PinnedSource, repo: string, uncommittedChanges = false): Promise<PinnedFleet> {
  const fleet = await loadFleet(source.snapshot.storePath);
  const nixSource: NixSource =
    fleet.layout === "flake" ? { kind: "flake", flakeRef: source.snapshot.flakeRef } : { kind: "file", file: join(source.snapshot.storePath, fleet.config.fleet.file) };
  return { source, fleet, nixSource, repo, uncommittedChanges, uncommittedFleetFiles: [] };
}

/** What `--ref` may name, in the order tried: full ref names (CI's `$GITHUB_REF`), tags, branches, commits. */
export function refCandidates(ref: string): SourceSpec[] {
  if (ref.startsWith("refs/tags/")) return [{ kind: "tag", tag: ref.slice("refs/tags/".length) }];
  if (ref.startsWith("refs/heads/")) return [{ kind: "branch", branch: ref.slice("refs/heads/".length) }];
  const candidates: SourceSpec[] = [{ kind: "tag", tag: ref }, { kind: "branch", branch: ref }];
  if (/^[0-9a-f]{4,40}$/i.test(ref)) candidates.push({ kind: "commit", commit: ref });
  return candidates;
}

async function pinRef(ref: string, prep: Parameters<typeof prepareSource>[1]): Promise<PinnedSource> {
  const candidates = refCandidates(ref);
  for (const spec of candidates) {
    try {
      return await prepareSource(spec, prep);
    } catch (e) {
      if (e instanceof GitUnknownRefError) continue;
      throw e;
    }
  }
  throw new OscdError("unknown-ref", `${JSON.stringify(ref)} is not a tag, branch or commit of ${prep.remote}`, {
    hint: "check the name (git ls-remote shows what the repository has)",
    exitCode: 2,
  });
}
