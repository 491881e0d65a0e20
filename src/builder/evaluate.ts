import { z } from "zod";
import { OscdError, isOscdError } from "../core/errors.js";
import { attrPathExpr, evalExprJson, isStorePath, nixOk, overrideMatchesNoInput, type NixCallOptions, type NixSource } from "../nix/index.js";
import { checkOverrideInputs, overridesNeedFlake, type OverrideInputs } from "./overrides.js";
import type { BuildTarget } from "./targets.js";

export interface Evaluated {
  drvPath: string;
  outPath: string;
  /** The derivation's own `system` (what it must be built on). */
  system: string;
  /** The value of `EvaluateOptions.extra` for this host, evaluated with it (JSON). */
  extra?: unknown;
}

export type EvalOutcome = { ok: true; value: Evaluated } | { ok: false; error: OscdError };

export interface EvaluateOptions extends NixCallOptions {
  /** Parallel single-host evaluations when the joint one fails (default 4). */
  fallbackJobs?: number;
  /** Flake inputs replaced at evaluation (`--override-input`); flakes only. */
  overrideInputs?: OverrideInputs;
  /**
   * More to evaluate per host in the same evaluation (images): a Nix expression given the
   * expression of the host's root set (flake outputs or the classic file's value) and `d`,
   * the function that gives a derivation's drv, out and system. Not with overrideInputs.
   */
  extra?: ExtraExpr;
}

export type ExtraExpr = (target: Pick<BuildTarget, "attribute" | "system"> & { name?: string }, root: string) => string;

const evaluatedList = z.array(z.object({ drv: z.string(), out: z.string(), system: z.string().nullable(), extra: z.unknown().optional() }));

const DERIVATION_FIELDS = "d = x: { drv = x.drvPath; out = x.outPath; system = x.system or null; };";

/**
 * The Nix expression that evaluates every target in ONE evaluation. A classic fleet file that
 * is a function taking `system` is called once per distinct host system with it (the way
 * `<nixpkgs/nixos>` takes `system`); a flake's configurations carry their own system.
 */
export function evaluationExpr(source: NixSource, targets: readonly (Pick<BuildTarget, "attribute" | "system"> & { name?: string })[], extra?: ExtraExpr): string {
  const systems = [...new Set(targets.map((t) => t.system))];
  let roots: string;
  if (source.kind === "flake") {
    roots = `let outputs = (builtins.getFlake ${JSON.stringify(source.flakeRef)}).outputs; in { ${systems.map((s) => `${JSON.stringify(s)} = outputs;`).join(" ")} }`;
  } else {
    if (!source.file.startsWith("/")) throw new Error(`the fleet file must be an absolute path, got ${source.file}`);
    const args = Object.entries(source.argstr ?? {}).map(([k, v]) => `${JSON.stringify(k)} = ${JSON.stringify(v)};`).join(" ");
    roots = `let f = import (/. + ${JSON.stringify(source.file)}); call = system: if builtins.isFunction f then f (builtins.intersectAttrs (builtins.functionArgs f) { inherit system; ${args} }) else f; in { ${systems
      .map((s) => `${JSON.stringify(s)} = call ${JSON.stringify(s)};`)
      .join(" ")} }`;
  }
  const list = targets
    .map((t) => {
      const root = `roots.${JSON.stringify(t.system)}`;
      const top = `(d ${root}${attrPathExpr(t.attribute)})`;
      return extra ? `(${top} // { extra = (${extra(t, root)}); })` : top;
    })
    .join(" ");
  return `let roots = ${roots}; ${DERIVATION_FIELDS} in [ ${list} ]`;
}

function impure(source: NixSource): boolean {
  if (source.kind === "file") return true;
  return !(/[?&](rev|narHash)=/.test(source.flakeRef) || source.flakeRef.startsWith("/nix/store/"));
}

/** An attribute name as a flake fragment component: bare when Nix reads it so, else quoted. */
function fragmentName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_'-]*$/.test(name) ? name : JSON.stringify(name);
}

/**
 * Evaluates targets with flake inputs replaced. `--override-input` applies to installables,
 * not to `builtins.getFlake`, so the hosts are reached through one installable per top-level
 * output (normally one: nixosConfigurations) with `--apply` picking each host's toplevel;
 * `--apply` and `--override-input` on `nix eval` both exist in Nix 2.8.
 */
async function evalOverridden(flakeRef: string, targets: readonly BuildTarget[], overrides: OverrideInputs, opts: NixCallOptions): Promise<unknown[]> {
  const groups = new Map<string, { rest: string; index: number }[]>();
  targets.forEach((t, index) => {
    const [first = "", ...rest] = t.attribute.split(".").filter((p) => p.length > 0);
    groups.set(first, [...(groups.get(first) ?? []), { rest: rest.join("."), index }]);
  });
  const out: unknown[] = new Array(targets.length);
  const overrideArgs = Object.entries(overrides).flatMap(([name, ref]) => ["--override-input", name, ref]);
  for (const [first, members] of groups) {
    const list = members.map((m) => `(d (o${m.rest === "" ? "" : attrPathExpr(m.rest)}))`).join(" ");
    const args = ["eval", "--json", ...(impure({ kind: "flake", flakeRef }) ? ["--impure"] : []), ...overrideArgs, `${flakeRef}#${fragmentName(first)}`, "--apply", `o: let ${DERIVATION_FIELDS} in [ ${list} ]`];
    const r = await nixOk("nix", args, opts, "nix-eval-failed", `evaluating ${first} of ${flakeRef} with ${Object.keys(overrides).join(", ")} overridden`, () => "check the input names against the flake's inputs");
    // Nix only warns about an override naming no input, and evaluates with the pinned one.
    const unmatched = overrideMatchesNoInput(r.stderr);
    if (unmatched) throw overrideUnknownInput(unmatched);
    const values = z.array(z.unknown()).parse(JSON.parse(r.stdout));
    members.forEach((m, i) => (out[m.index] = values[i]));
  }
  return out;
}

function overrideUnknownInput(warning: string): OscdError {
  return new OscdError("override-unknown-input", `--override-input names no input of the flake: ${warning}`, {
    exitCode: 2,
    hint: "use the input names of the fleet's flake.nix (nested inputs as outer/inner)",
  });
}

async function evalTogether(source: NixSource, targets: readonly BuildTarget[], opts: NixCallOptions, overrides: OverrideInputs, extra?: ExtraExpr): Promise<Evaluated[]> {
  const raw =
    Object.keys(overrides).length > 0 && source.kind === "flake"
      ? await evalOverridden(source.flakeRef, targets, overrides, opts)
      : await evalExprJson(evaluationExpr(source, targets, extra), { ...opts, impure: impure(source) });
  const parsed = evaluatedList.parse(raw);
  if (parsed.length !== targets.length) throw new Error(`the evaluation returned ${parsed.length} results for ${targets.length} hosts`);
  return parsed.map((p, i) => {
    if (!isStorePath(p.drv) || !isStorePath(p.out)) throw new OscdError("not-a-derivation", `${targets[i]?.attribute} did not evaluate to a derivation with store paths`);
    return { drvPath: p.drv, outPath: p.out, system: p.system ?? (targets[i] as BuildTarget).system, ...(extra ? { extra: p.extra } : {}) };
  });
}

function checkSystem(t: BuildTarget, e: Evaluated): EvalOutcome {
  if (t.systemDeclared && e.system !== t.system) {
    return {
      ok: false,
      error: new OscdError("host-system-mismatch", `${t.name} declares system ${t.system} in oscd.toml, but its toplevel evaluates for ${e.system}`, {
        hint: `make hosts.${t.name}.system in oscd.toml and the host's configuration agree`,
        exitCode: 2,
      }),
    };
  }
  return { ok: true, value: e };
}

function asOscdError(e: unknown, t: BuildTarget): OscdError {
  if (isOscdError(e)) return e;
  return new OscdError("nix-eval-failed", `evaluating ${t.name}: ${e instanceof Error ? e.message : String(e)}`);
}

/**
 * Evaluates all targets in one Nix evaluation. When that fails, evaluates them one by one to
 * find which hosts fail, so the others can still be built: each failing host gets its own
 * error (Nix's message), the rest their derivations.
 */
export async function evaluateTargets(source: NixSource, targets: readonly BuildTarget[], opts: EvaluateOptions = {}): Promise<Map<string, EvalOutcome>> {
  const out = new Map<string, EvalOutcome>();
  const { fallbackJobs, overrideInputs = {}, extra, ...nix } = opts;
  if (Object.keys(overrideInputs).length > 0) {
    if (extra) throw new OscdError("override-with-extra", "--override-input cannot be combined with image builds yet", { exitCode: 2, hint: "build the image without --override-input" });
    if (source.kind !== "flake") throw overridesNeedFlake();
    checkOverrideInputs(overrideInputs);
  }
  if (targets.length === 0) return out;
  try {
    const all = await evalTogether(source, targets, nix, overrideInputs, extra);
    targets.forEach((t, i) => out.set(t.name, checkSystem(t, all[i] as Evaluated)));
    return out;
  } catch (e) {
    // The same for every host: not a host's failure but the command's.
    if (isOscdError(e) && e.code === "override-unknown-input") throw e;
    if (targets.length === 1) {
      out.set((targets[0] as BuildTarget).name, { ok: false, error: asOscdError(e, targets[0] as BuildTarget) });
      return out;
    }
  }
  await eachLimited(targets, fallbackJobs ?? 4, async (t) => {
    try {
      const [one] = await evalTogether(source, [t], nix, overrideInputs, extra);
      out.set(t.name, checkSystem(t, one as Evaluated));
    } catch (e) {
      out.set(t.name, { ok: false, error: asOscdError(e, t) });
    }
  });
  return out;
}

/** Runs `f` over items with at most `limit` at a time. */
export async function eachLimited<T>(items: readonly T[], limit: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await f(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
