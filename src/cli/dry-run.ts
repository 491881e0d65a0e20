import type { DryRunPlan } from "../core/dry-run.js";
import { printJson, table } from "./output.js";
import { warn } from "./progress.js";

/**
 * Prints what a `--dry-run` would do: on stdout, a header naming the command and that nothing
 * was changed, then one row per step (action, target, host, detail); with --json, the plan as
 * one JSON document. Warnings go to stderr as in a real run.
 */
export function printDryRun(plan: DryRunPlan, json: boolean | undefined): void {
  for (const w of plan.warnings) warn(w);
  if (json) return printJson(plan);
  const out: string[] = [`dry run of oscd ${plan.command}: nothing was changed${plan.did.length ? ` (${plan.did.join("; ")})` : ""}`];
  if (plan.steps.length === 0) out.push("a real run would change nothing");
  else {
    out.push("a real run would:");
    const rows = [["ACTION", "TARGET", "HOST", "DETAIL"], ...plan.steps.map((s) => [s.action, s.target, s.host ?? "-", s.detail ?? ""])];
    out.push(table(rows).trimEnd().split("\n").map((l) => `  ${l}`).join("\n"));
  }
  process.stdout.write(out.join("\n") + "\n");
}

/** The help line of a command's --dry-run: what it still does to know the plan. */
export function dryRunHelp(does: string): string {
  return `print what a real run would do and exit 0 without doing it; ${does}`;
}
