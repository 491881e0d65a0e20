import { z } from "zod";
import { nixOk, type NixCallOptions } from "./command.js";
import { installableArgs, describeSource, type NixSource } from "./installable.js";
import { assertStorePath } from "./storepath.js";

const EVAL_HINT = "fix the Nix expression; the error line above is Nix's own";

/** Evaluates one attribute to JSON (`nix eval --json`). */
export async function evalJson(source: NixSource, attr: string, opts: NixCallOptions = {}): Promise<unknown> {
  const r = await nixOk("nix", ["eval", "--json", ...installableArgs(source, [attr])], opts, "nix-eval-failed", `evaluating ${attr} of ${describeSource(source)}`, () => EVAL_HINT);
  return JSON.parse(r.stdout) as unknown;
}

/** Evaluates a Nix expression string to JSON; `--impure` is off, so it sees nothing outside. */
export async function evalExprJson(expr: string, opts: NixCallOptions = {}): Promise<unknown> {
  const r = await nixOk("nix", ["eval", "--json", "--expr", expr], opts, "nix-eval-failed", "evaluating an expression", () => EVAL_HINT);
  return JSON.parse(r.stdout) as unknown;
}

const drvList = z.array(z.string());

/**
 * Instantiates attributes to derivations in one evaluation; returns the .drv paths in the
 * order of `attrs`.
 */
export async function instantiate(source: NixSource, attrs: readonly string[], opts: NixCallOptions = {}): Promise<string[]> {
  if (attrs.length === 0) return [];
  if (source.kind === "file") {
    const argstr = Object.entries(source.argstr ?? {}).flatMap(([k, v]) => ["--argstr", k, v]);
    const r = await nixOk("nix-instantiate", [source.file, ...argstr, ...attrs.flatMap((a) => ["-A", a])], opts, "nix-eval-failed", `instantiating ${attrs.join(", ")} of ${source.file}`, () => EVAL_HINT);
    return r.stdout.split("\n").map((l) => l.trim()).filter(Boolean).map(assertStorePath);
  }
  // One `nix eval` of a list keeps it to a single evaluation of the flake.
  const list = attrs.map((a) => `(f.${a}).drvPath`).join(" ");
  const expr = `let f = builtins.getFlake ${JSON.stringify(source.flakeRef)}; in [ ${list} ]`;
  const r = await nixOk("nix", ["eval", "--json", "--expr", expr], opts, "nix-eval-failed", `instantiating ${attrs.join(", ")} of ${source.flakeRef}`, () => EVAL_HINT);
  return drvList.parse(JSON.parse(r.stdout)).map(assertStorePath);
}
