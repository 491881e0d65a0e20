import { z } from "zod";
import { nixOk, type NixCallOptions } from "./command.js";
import { installableArgs, describeSource, type NixSource } from "./installable.js";
import { assertStorePath } from "./storepath.js";

export interface BuildOptions extends NixCallOptions {
  /** Passed to `--builders` so fleets can use Nix's remote builders. */
  builders?: string;
  maxJobs?: number;
  /** `--keep-going`: build what can be built when one attribute fails. */
  keepGoing?: boolean;
}

export interface BuildResult {
  attr: string;
  drvPath: string;
  outPath: string;
}

const buildJson = z.array(z.object({ drvPath: z.string(), outputs: z.record(z.string()) }));

/**
 * Builds several attributes in one `nix build` (one evaluation, Nix's own parallelism) and
 * returns their `out` paths in the order of `attrs`. Nothing is rooted here: callers root the
 * results (see `addRoot`) before anything can collect garbage.
 */
export async function build(source: NixSource, attrs: readonly string[], opts: BuildOptions = {}): Promise<BuildResult[]> {
  if (attrs.length === 0) return [];
  const args = ["build", "--json", "--no-link"];
  if (opts.builders !== undefined) args.push("--builders", opts.builders);
  if (opts.maxJobs !== undefined) args.push("--max-jobs", String(opts.maxJobs));
  if (opts.keepGoing) args.push("--keep-going");
  args.push(...installableArgs(source, attrs));
  const r = await nixOk("nix", args, opts, "nix-build-failed", `building ${attrs.join(", ")} of ${describeSource(source)}`, () => "read the build log with `nix log <drv>`; the error line above is Nix's own");
  const parsed = buildJson.parse(JSON.parse(r.stdout));
  if (parsed.length !== attrs.length) throw new Error(`nix build returned ${parsed.length} results for ${attrs.length} attributes`);
  return parsed.map((p, i) => {
    const out = p.outputs.out ?? Object.values(p.outputs)[0];
    if (!out) throw new Error(`nix build returned no output for ${attrs[i]}`);
    return { attr: attrs[i] as string, drvPath: assertStorePath(p.drvPath), outPath: assertStorePath(out) };
  });
}
