import type { RealiseJob } from "../builder/index.js";
import type { OscdError } from "../core/errors.js";
import { diffSystems, type SystemDiff } from "./closure-diff.js";
import { evaluateRevision, realiseToplevels, type RepoOptions } from "./revision.js";

export type HostImpactStatus = "changed" | "unchanged" | "added" | "removed" | "failed";

export interface HostImpact {
  host: string;
  status: HostImpactStatus;
  from?: string;
  to?: string;
  /** For changed hosts: packages, closure size, reboot forecast. */
  diff?: SystemDiff;
  /** For failed hosts: the side and Nix's message. */
  error?: { side: "from" | "to"; code: string; message: string };
}

export interface ImpactReport {
  from: { ref: string; commit: string };
  to: { ref: string; commit: string };
  hosts: HostImpact[];
}

export interface ImpactRequest extends RepoOptions {
  from: string;
  to: string;
  /** `--on` selection (default all hosts). */
  selection?: string;
}

function failure(side: "from" | "to", e: OscdError | undefined): HostImpact["error"] {
  return { side, code: e?.code ?? "build-failed", message: e?.message ?? "no toplevel" };
}

/**
 * For every host, whether a change touches it: ONE evaluation of all hosts per ref, toplevels
 * compared, then only the changed hosts' two toplevels built (one realise for all) and diffed.
 */
export async function impact(req: ImpactRequest): Promise<ImpactReport> {
  const from = await evaluateRevision(req.from, req, req.selection);
  const to = await evaluateRevision(req.to, req, req.selection);
  const names = [...new Set([...from.hosts.keys(), ...to.hosts.keys()])].sort();
  const out = new Map<string, HostImpact>();
  const jobs: RealiseJob[] = [];
  for (const host of names) {
    const a = from.hosts.get(host);
    const b = to.hosts.get(host);
    if (a?.status === "failed") out.set(host, { host, status: "failed", error: failure("from", a.error) });
    else if (b?.status === "failed") out.set(host, { host, status: "failed", error: failure("to", b.error) });
    else if (!a) out.set(host, { host, status: "added", to: b?.toplevel });
    else if (!b) out.set(host, { host, status: "removed", from: a.toplevel });
    else if (a.toplevel === b.toplevel) out.set(host, { host, status: "unchanged", from: a.toplevel, to: b.toplevel });
    else {
      out.set(host, { host, status: "changed", from: a.toplevel, to: b.toplevel });
      jobs.push({ host: `from-${host}`, drvPath: a.drvPath as string, outPath: a.toplevel as string }, { host: `to-${host}`, drvPath: b.drvPath as string, outPath: b.toplevel as string });
    }
  }
  const failed = await realiseToplevels(jobs, req);
  for (const [key, err] of failed) {
    const side = key.startsWith("from-") ? "from" : "to";
    const host = key.slice(side.length + 1);
    out.set(host, { ...(out.get(host) as HostImpact), status: "failed", error: failure(side, err) });
  }
  for (const h of out.values()) {
    if (h.status === "changed") h.diff = await diffSystems(h.from as string, h.to as string, req.nix);
  }
  return {
    from: { ref: from.pinned.source.ref, commit: from.pinned.source.commit },
    to: { ref: to.pinned.source.ref, commit: to.pinned.source.commit },
    hosts: names.map((n) => out.get(n) as HostImpact),
  };
}
