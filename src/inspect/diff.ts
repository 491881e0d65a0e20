import { realpath } from "node:fs/promises";
import { UsageError } from "../core/errors.js";
import { HOST_NAME } from "../manifest/index.js";
import { isStorePath, isValidPath, listGenerations, NoSuchGenerationError, SYSTEM_PROFILE } from "../nix/index.js";
import { diffSystems, type SystemDiff } from "./closure-diff.js";
import { DiffBuildError, DiffEndpointError } from "./errors.js";
import { evaluateRevision, realiseToplevels, type RepoOptions } from "./revision.js";

/** What --from/--to name: the running or booted system, a generation, a store path, or a git ref. */
export type Endpoint = { kind: "running" | "booted" } | { kind: "generation"; number: number } | { kind: "store-path"; path: string } | { kind: "ref"; ref: string };

/**
 * `running`/`booted` are this machine's systems, a number is a generation of the system
 * profile, `/nix/store/…` a toplevel, anything else a git ref (a branch named only by digits
 * is `refs/heads/<n>`).
 */
export function parseEndpoint(value: string): Endpoint {
  if (value === "running" || value === "booted") return { kind: value };
  if (/^\d+$/.test(value)) return { kind: "generation", number: Number(value) };
  if (value.startsWith("/")) {
    if (!isStorePath(value)) throw new DiffEndpointError(value, "a path that is not a store path");
    return { kind: "store-path", path: value };
  }
  if (value === "" || value.startsWith("-")) throw new DiffEndpointError(value, "not a ref");
  return { kind: "ref", ref: value };
}

export interface DiffRequest extends RepoOptions {
  host: string;
  from: Endpoint;
  to: Endpoint;
  profile?: string;
}

export interface DiffResult extends SystemDiff {
  host: string;
  fromLabel: string;
  toLabel: string;
}

function label(e: Endpoint): string {
  if (e.kind === "generation") return `generation ${e.number}`;
  if (e.kind === "store-path") return e.path;
  if (e.kind === "ref") return e.ref;
  return `${e.kind} system`;
}

async function machineToplevel(e: Endpoint, profile: string): Promise<string | undefined> {
  if (e.kind === "running" || e.kind === "booted") {
    const link = e.kind === "running" ? "/run/current-system" : "/run/booted-system";
    try {
      return await realpath(link);
    } catch {
      throw new DiffEndpointError(e.kind, `${link} does not exist on this machine`);
    }
  }
  if (e.kind === "generation") {
    const g = (await listGenerations(profile)).find((x) => x.number === e.number);
    if (!g) throw new NoSuchGenerationError(profile, e.number);
    return realpath(g.link);
  }
  if (e.kind === "store-path") return e.path;
  return undefined;
}

/** The package, closure size and reboot difference of one host between two endpoints. */
export async function diffHost(req: DiffRequest): Promise<DiffResult> {
  if (!HOST_NAME.test(req.host)) throw new UsageError(`${JSON.stringify(req.host)} is not a host name`, "name one host of the fleet, e.g. web1", "diff-bad-host");
  const profile = req.profile ?? SYSTEM_PROFILE;
  const sides = await Promise.all(
    ([req.from, req.to] as const).map(async (e, i) => {
      const fixed = await machineToplevel(e, profile);
      if (fixed !== undefined) {
        if (!(await isValidPath(fixed, req.nix))) throw new DiffEndpointError(label(e), `${fixed} is not in this machine's store`);
        return { key: "", path: fixed };
      }
      const rev = await evaluateRevision((e as { ref: string }).ref, req, req.host);
      const h = rev.hosts.get(req.host);
      if (!h?.toplevel || !h.drvPath || h.status === "failed") throw new DiffBuildError(req.host, label(e), h?.error);
      return { key: `${i === 0 ? "from" : "to"}-${req.host}`, path: h.toplevel, drvPath: h.drvPath };
    }),
  );
  const jobs = sides.filter((s) => s.key !== "").map((s) => ({ host: s.key, drvPath: (s as { drvPath: string }).drvPath, outPath: s.path }));
  const failed = await realiseToplevels(jobs, req);
  for (const [key, err] of failed) throw new DiffBuildError(req.host, key.startsWith("from") ? label(req.from) : label(req.to), err);
  const diff = await diffSystems((sides[0] as { path: string }).path, (sides[1] as { path: string }).path, req.nix);
  return { ...diff, host: req.host, fromLabel: label(req.from), toLabel: label(req.to) };
}
