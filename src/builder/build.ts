import { OscdError } from "../core/errors.js";
import { pathInfo, type NixCallOptions } from "../nix/index.js";
import { evaluateTargets, type ExtraExpr } from "./evaluate.js";
import { checkOverrideInputs, type OverrideInputs } from "./overrides.js";
import { classicOverrideSource } from "./pin-file.js";
import { buildablePlatforms } from "./platforms.js";
import type { PinnedFleet } from "./pin.js";
import { invalidPaths, realiseJobs, type RealiseJob } from "./realise.js";
import { buildTargets, type BuildTarget, type Targets } from "./targets.js";

export type HostStatus = "built" | "present" | "evaluated" | "failed";

/** What happened to one host. */
export interface HostBuild {
  name: string;
  attribute: string;
  system: string;
  status: HostStatus;
  /** The step that failed, for failed hosts. */
  failedStep?: "evaluate" | "build";
  drvPath?: string;
  toplevel?: string;
  /** Bytes of the toplevel's closure (built and present hosts). */
  closureSize?: number;
  /** Time this host's build took (0 when already present). */
  timeMs: number;
  error?: OscdError;
  /** What `BuildOptions.extra` evaluated for this host, and the derivations built with it. */
  extra?: { value: unknown; derivations: ExtraDerivation[] };
}

/** A derivation built alongside a host's toplevel (an image), named for messages. */
export interface ExtraDerivation {
  label: string;
  drvPath: string;
  outPath: string;
  system: string;
}

/**
 * More per host, in the same evaluation and the same build as the toplevels (images):
 * `expr` is evaluated with each host, `derivations` turns its value into what to build
 * (an OscdError thrown there fails the host at evaluation), and `unbuildable` names the
 * refusal for a derivation of a system no builder has.
 */
export interface ExtraBuild {
  expr: ExtraExpr;
  derivations(host: string, value: unknown): ExtraDerivation[];
  unbuildable(host: string, d: ExtraDerivation, buildable: readonly string[]): OscdError;
}

export interface BuildReport {
  commit: string;
  ref: string;
  tag?: string;
  version?: string;
  hosts: HostBuild[];
  targets: Targets;
  /** Flake inputs replaced at evaluation, when any were. */
  overrideInputs?: OverrideInputs;
  evalMs: number;
  buildMs: number;
}

export type BuildProgress =
  | { step: "evaluate"; state: "start"; hosts: number }
  | { step: "evaluate"; state: "done" | "failed"; host: string; system?: string; toplevel?: string; detail?: string }
  | { step: "build"; state: "present" | "building" | "built" | "failed"; host: string; timeMs?: number; detail?: string };

export interface BuildOptions {
  /** `--on` selection (names, globs, @tags); empty: all hosts. */
  selection?: string;
  /** Nix's remote builders (`--builders`). */
  builders?: string;
  maxJobs?: number | "auto";
  /**
   * Flake inputs replaced at evaluation (`--override-input NAME=REF`, RFC R5.2: build a
   * release against another package set than the one it pins). Flake fleets only.
   */
  overrideInputs?: OverrideInputs;
  /** Evaluate only: no build, no roots (e.g. hosts of a system this machine cannot build). */
  evalOnly?: boolean;
  /** GC root directory for the results (default /nix/var/nix/gcroots/oscd). */
  rootDir?: string;
  /** Time limit of the build step (default 4 hours). */
  buildTimeoutMs?: number;
  onProgress?: (p: BuildProgress) => void;
  nix?: NixCallOptions;
  /** Extra per-host derivations (images), evaluated and built with the toplevels. */
  extra?: ExtraBuild;
}

/** GC root name of a host's latest build result: one per fleet and host. */
export function buildRootName(fleetName: string, host: string): string {
  return `build-${fleetName.replace(/[^A-Za-z0-9._+-]/g, "_")}-${host}`;
}

/**
 * Evaluates all selected hosts in one Nix evaluation (falling back to one by one to name the
 * hosts that fail), builds the rest in one Nix build with GC roots for the results, and
 * measures each host's closure. A failing host never stops the others.
 */
export async function buildHosts(p: PinnedFleet, opts: BuildOptions = {}, targets?: Targets): Promise<BuildReport> {
  const nix = opts.nix ?? {};
  let overrideInputs = opts.overrideInputs ?? {};
  const overridden = Object.keys(overrideInputs).length > 0;
  let nixSource = p.nixSource;
  if (overridden) {
    checkOverrideInputs(overrideInputs);
    if (p.nixSource.kind !== "flake") {
      // A classic fleet's pins are replaced through its pin file and an argument, not Nix's flag.
      nixSource = await classicOverrideSource(p.fleet, p.nixSource, overrideInputs, nix);
      overrideInputs = {};
    }
  }
  const t = targets ?? (await buildTargets(p, opts.selection, nix));
  const hosts = new Map<string, HostBuild>(t.selected.map((h) => [h.name, { name: h.name, attribute: h.attribute, system: h.system, status: "failed", timeMs: 0 }]));
  const evalStart = Date.now();
  opts.onProgress?.({ step: "evaluate", state: "start", hosts: t.selected.length });
  const evaluated = await evaluateTargets(nixSource, t.selected, { ...nix, overrideInputs, extra: opts.extra?.expr });
  const evalMs = Date.now() - evalStart;
  const jobs: RealiseJob[] = [];
  for (const target of t.selected as BuildTarget[]) {
    const h = hosts.get(target.name) as HostBuild;
    const e = evaluated.get(target.name);
    if (!e || !e.ok) {
      h.failedStep = "evaluate";
      h.error = e?.ok === false ? e.error : undefined;
      opts.onProgress?.({ step: "evaluate", state: "failed", host: h.name, detail: h.error?.message });
      continue;
    }
    if (opts.extra) {
      try {
        h.extra = { value: e.value.extra, derivations: opts.extra.derivations(h.name, e.value.extra) };
      } catch (err) {
        if (!(err instanceof OscdError)) throw err;
        Object.assign(h, { failedStep: "evaluate", error: err });
        opts.onProgress?.({ step: "evaluate", state: "failed", host: h.name, detail: err.message });
        continue;
      }
    }
    Object.assign(h, { drvPath: e.value.drvPath, toplevel: e.value.outPath, system: e.value.system, status: "evaluated" });
    opts.onProgress?.({ step: "evaluate", state: "done", host: h.name, system: h.system, toplevel: h.toplevel });
    jobs.push({ host: h.name, drvPath: e.value.drvPath, outPath: e.value.outPath });
  }
  const extraJobs = extraJobsOf(hosts);
  const buildStart = Date.now();
  if (!opts.evalOnly && jobs.length > 0) {
    // Only what is missing must be built here; a foreign system's result already present is fine.
    const missing = await invalidPaths([...jobs, ...extraJobs.map((x) => x.job)].map((j) => j.outPath), nix);
    const platforms = missing.size > 0 ? await buildablePlatforms(opts.builders, nix) : { buildable: undefined };
    const buildable = jobs.filter((j) => {
      const h = hosts.get(j.host) as HostBuild;
      if (!missing.has(j.outPath) || platforms.buildable === undefined || platforms.buildable.has(h.system)) return true;
      h.status = "failed";
      h.failedStep = "build";
      h.error = new OscdError("build-platform", `${h.name} is for ${h.system}, and this machine builds ${[...platforms.buildable].join(", ")}`, {
        hint: "pass --builders with a remote builder for that system (Nix's distributed builds), or enable emulation (extra-platforms, boot.binfmt.emulatedSystems)",
      });
      opts.onProgress?.({ step: "build", state: "failed", host: h.name, detail: h.error.message });
      return false;
    });
    const buildableExtra = extraJobs.filter((x) => {
      const h = hosts.get(x.host) as HostBuild;
      if (h.status === "failed" || !buildable.some((j) => j.host === x.host)) return false;
      if (!missing.has(x.job.outPath) || platforms.buildable === undefined || platforms.buildable.has(x.d.system)) return true;
      Object.assign(h, { status: "failed", failedStep: "build", error: opts.extra?.unbuildable(h.name, x.d, [...platforms.buildable]) });
      opts.onProgress?.({ step: "build", state: "failed", host: h.name, detail: h.error?.message });
      return false;
    });
    const extraFor = new Map(buildableExtra.map((x) => [x.job.host, x]));
    const results = await realiseJobs([...buildable.filter((j) => (hosts.get(j.host) as HostBuild).status !== "failed"), ...buildableExtra.map((x) => x.job)], {
      ...nix,
      builders: opts.builders,
      maxJobs: opts.maxJobs,
      timeoutMs: opts.buildTimeoutMs ?? nix.timeoutMs,
      rootName: (host) => buildRootName(p.fleet.config.fleet.name, host),
      rootDir: opts.rootDir,
      onEvent: (ev) => opts.onProgress?.({ step: "build", ...ev }),
    });
    for (const [name, r] of results) {
      const x = extraFor.get(name);
      if (x) {
        const h = hosts.get(x.host) as HostBuild;
        if (r.status === "failed" && h.status !== "failed") Object.assign(h, { status: "failed", failedStep: "build", error: r.error });
        continue;
      }
      const h = hosts.get(name) as HostBuild;
      if (h.status === "failed") continue;
      h.status = r.status;
      h.timeMs = r.timeMs;
      if (r.status === "failed") {
        h.failedStep = "build";
        h.error = r.error;
      }
    }
    const ready = [...hosts.values()].filter((h) => (h.status === "built" || h.status === "present") && h.toplevel);
    const infos = await pathInfo([...new Set(ready.map((h) => h.toplevel as string))], { ...nix, closureSize: true });
    const size = new Map(infos.map((i) => [i.path, i.closureSize]));
    for (const h of ready) h.closureSize = size.get(h.toplevel as string);
  }
  return {
    commit: p.source.commit,
    ref: p.source.ref,
    tag: p.source.tag,
    version: p.source.version,
    hosts: t.selected.map((s) => hosts.get(s.name) as HostBuild),
    targets: t,
    overrideInputs: overridden ? opts.overrideInputs : undefined,
    evalMs,
    buildMs: Date.now() - buildStart,
  };
}

/** Each host's extra derivations as realise jobs, keyed `<host>.extra-<n>` (host names have no dots). */
function extraJobsOf(hosts: Map<string, HostBuild>): { host: string; d: ExtraDerivation; job: RealiseJob }[] {
  return [...hosts.values()].flatMap((h) =>
    h.status === "evaluated" ? (h.extra?.derivations ?? []).map((d, i) => ({ host: h.name, d, job: { host: `${h.name}.extra-${i}`, drvPath: d.drvPath, outPath: d.outPath } })) : [],
  );
}

export function failedHosts(r: Pick<BuildReport, "hosts">): HostBuild[] {
  return r.hosts.filter((h) => h.status === "failed");
}
