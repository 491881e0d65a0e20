import { nixOk, type NixCallOptions } from "./command.js";
import { describeSource, type NixSource } from "./installable.js";
import { instantiate, type EvaluatedDerivation } from "./evaluate.js";

export interface BuildOptions extends NixCallOptions {
  /** Passed to `--builders` so fleets can use Nix's remote builders. */
  builders?: string;
  maxJobs?: number;
  /** Build what can be built when one derivation fails. */
  keepGoing?: boolean;
}

export type BuildResult = EvaluatedDerivation;

const NO_ROOT_WARNING = /you did not specify '--add-root'/;

/**
 * Evaluates several attributes in one evaluation, then builds all their derivations in one
 * `nix-store --realise` (Nix's own parallelism and remote builders). Returns the out paths in
 * the order of `attrs`. Nothing is rooted here: callers root the results (`addRoot`).
 */
export async function build(source: NixSource, attrs: readonly string[], opts: BuildOptions = {}): Promise<BuildResult[]> {
  const drvs = await instantiate(source, attrs, opts);
  await realiseDerivations(drvs.map((d) => d.drvPath), opts, `building ${attrs.join(", ")} of ${describeSource(source)}`);
  return drvs;
}

export async function realiseDerivations(drvPaths: readonly string[], opts: BuildOptions = {}, what = "building derivations"): Promise<void> {
  if (drvPaths.length === 0) return;
  const args = ["--realise", ...drvPaths];
  if (opts.builders !== undefined) args.push("--builders", opts.builders);
  if (opts.maxJobs !== undefined) args.push("--max-jobs", String(opts.maxJobs));
  if (opts.keepGoing) args.push("--keep-going");
  // Callers root the outputs themselves, before realising, so Nix's advice to pass
  // --add-root would only mislead whoever reads the progress.
  const onLog = opts.onLog && ((line: string) => (NO_ROOT_WARNING.test(line) ? undefined : opts.onLog?.(line)));
  await nixOk("nix-store", args, { ...opts, onLog }, "nix-build-failed", what, () => "read the build log with `nix log <drv>`; the error line above is Nix's own");
}
