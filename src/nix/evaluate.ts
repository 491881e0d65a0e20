import { z } from "zod";
import { nixOk, type NixCallOptions } from "./command.js";
import { installableArgs, describeSource, type NixSource } from "./installable.js";
import { NixOutputUnrecognisedError, parseNixJsonText, zodProblem } from "./output-error.js";
import { assertStorePath } from "./storepath.js";

const EVAL_HINT = "fix the Nix expression; the error line above is Nix's own";

/** Evaluates one attribute to JSON (`nix eval --json`). */
export async function evalJson(source: NixSource, attr: string, opts: NixCallOptions = {}): Promise<unknown> {
  const r = await nixOk("nix", ["eval", "--json", ...evalFlags(source), ...installableArgs(source, [attr])], opts, "nix-eval-failed", `evaluating ${attr} of ${describeSource(source)}`, () => EVAL_HINT);
  return parseNixJsonText("nix eval --json", undefined, r.stdout);
}

/** Evaluates a Nix expression string to JSON, in pure mode unless `impure` is set. */
export async function evalExprJson(expr: string, opts: NixCallOptions & { impure?: boolean } = {}): Promise<unknown> {
  const r = await nixOk("nix", ["eval", "--json", ...(opts.impure ? ["--impure"] : []), "--expr", expr], opts, "nix-eval-failed", "evaluating an expression", () => EVAL_HINT);
  return parseNixJsonText("nix eval --json", undefined, r.stdout);
}

export interface EvaluatedDerivation {
  attr: string;
  drvPath: string;
  outPath: string;
}

// Keys are not named outPath: Nix would print an attribute set with an outPath as that string.
const evaluated = z.array(z.object({ drv: z.string(), out: z.string() }));

/**
 * Evaluates several attributes to their derivation and output paths in ONE Nix evaluation,
 * in the order of `attrs` (what `nix build --json` does not promise).
 */
export async function instantiate(source: NixSource, attrs: readonly string[], opts: NixCallOptions = {}): Promise<EvaluatedDerivation[]> {
  if (attrs.length === 0) return [];
  const list = attrs.map((a) => `(d root${attrPathExpr(a)})`).join(" ");
  const expr = `let root = ${rootExpr(source)}; d = x: { drv = x.drvPath; out = x.outPath; }; in [ ${list} ]`;
  const r = await nixOk("nix", ["eval", "--json", ...evalFlags(source), "--expr", expr], opts, "nix-eval-failed", `evaluating ${attrs.join(", ")} of ${describeSource(source)}`, () => EVAL_HINT);
  const shape = evaluated.safeParse(parseNixJsonText("nix eval --json", undefined, r.stdout));
  if (!shape.success) throw new NixOutputUnrecognisedError("nix eval --json", undefined, zodProblem(shape.error));
  const parsed = shape.data;
  return parsed.map((p, i) => ({ attr: attrs[i] as string, drvPath: assertStorePath(p.drv), outPath: assertStorePath(p.out) }));
}

/** `.a.b.c` with every name quoted, so names with dashes or dots-in-quotes are safe. */
export function attrPathExpr(attr: string): string {
  const parts = attr.split(".").filter((p) => p.length > 0);
  if (parts.length === 0) throw new Error(`empty attribute path ${JSON.stringify(attr)}`);
  return parts.map((p) => `.${JSON.stringify(p)}`).join("");
}

function rootExpr(source: NixSource): string {
  if (source.kind === "flake") return `(builtins.getFlake ${JSON.stringify(source.flakeRef)}).outputs`;
  const args = Object.entries(source.argstr ?? {}).map(([k, v]) => `${JSON.stringify(k)} = ${JSON.stringify(v)};`).join(" ");
  return `(let f = import ${nixPath(source.file)}; in if builtins.isFunction f then f { ${args} } else f)`;
}

function nixPath(file: string): string {
  if (!file.startsWith("/")) throw new Error(`the Nix file must be an absolute path, got ${file}`);
  return `(/. + ${JSON.stringify(file)})`;
}

/** A flake reference that is not locked to a revision needs impure evaluation to be fetched. */
function evalFlags(source: NixSource): string[] {
  if (source.kind === "file") return ["--impure"];
  return /[?&](rev|narHash)=/.test(source.flakeRef) || source.flakeRef.startsWith("/nix/store/") ? [] : ["--impure"];
}
