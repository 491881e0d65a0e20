import { buildHosts, pinFleet, realiseJobs, type HostBuild, type PinnedFleet, type RealiseJob } from "../builder/index.js";
import type { OscdError } from "../core/errors.js";
import type { NixCallOptions } from "../nix/index.js";

/** Where the fleet repository is and where oscd keeps its mirror and roots (as `oscd build`). */
export interface RepoOptions {
  repo?: string;
  stateDir?: string;
  /** GC root directory; the inspected toplevels are rooted under `<rootDir>/inspect`. */
  rootDir?: string;
  nix?: NixCallOptions;
  onProgress?: (step: string, detail: string) => void;
}

/** One ref of the fleet, pinned and evaluated (every selected host in one evaluation). */
export interface EvaluatedRevision {
  pinned: PinnedFleet;
  hosts: Map<string, HostBuild>;
}

export async function evaluateRevision(ref: string | undefined, o: RepoOptions, selection?: string): Promise<EvaluatedRevision> {
  // HEAD is the local checkout's HEAD, which pinFleet takes when no ref is given.
  const pinned = await pinFleet({ repo: o.repo, ref: ref === "HEAD" ? undefined : ref, stateDir: o.stateDir, rootDir: o.rootDir });
  o.onProgress?.("pin", `${ref ?? "HEAD"} = ${pinned.source.commit.slice(0, 12)}`);
  const report = await buildHosts(pinned, { selection, evalOnly: true, nix: o.nix });
  return { pinned, hosts: new Map(report.hosts.map((h) => [h.name, h])) };
}

export function inspectRootDir(rootDir: string | undefined): string {
  return `${rootDir ?? "/nix/var/nix/gcroots/oscd"}/inspect`;
}

/**
 * Builds (or finds) evaluated toplevels in ONE realise, each rooted as `inspect-<key>` so the
 * closures compared stay in the store while they are compared. Returns the failures by key.
 */
export async function realiseToplevels(jobs: readonly RealiseJob[], o: RepoOptions): Promise<Map<string, OscdError>> {
  const failed = new Map<string, OscdError>();
  if (jobs.length === 0) return failed;
  const results = await realiseJobs(jobs, {
    ...o.nix,
    rootName: (key) => `inspect-${key.replace(/[^A-Za-z0-9._+-]/g, "-")}`,
    rootDir: inspectRootDir(o.rootDir),
    onEvent: (e) => o.onProgress?.("build", `${e.host}: ${e.state}${e.detail ? ` ${e.detail}` : ""}`),
  });
  for (const [key, r] of results) if (r.status === "failed") failed.set(key, r.error);
  return failed;
}
