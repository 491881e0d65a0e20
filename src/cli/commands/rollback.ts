import { Command } from "commander";
import { hostname } from "node:os";
import { activate, generations } from "../../activate/index.js";
import { dryRunPlan } from "../../core/dry-run.js";
import { UsageError } from "../../core/errors.js";
import { healthSchema, loadMachineConfig } from "../../fleet/index.js";
import { dryRunHelp, printDryRun } from "../dry-run.js";
import { printJson } from "../output.js";
import { progressPrinter } from "../progress.js";
import { printActivation } from "./print-activation.js";

export function registerRollback(program: Command): void {
  program
    .command("rollback")
    .description("switch back to the previous generation (or --to a given one), with health checks")
    .option("--to <generation>", "the generation number to go back to (see oscd generations)")
    .option("--config <file>", "machine configuration", "/etc/oscd/machine.toml")
    .option("--dry-run", dryRunHelp("it reads the generations and the machine configuration"))
    .option("--json", "print the result as JSON")
    .option("-q, --quiet", "no progress lines")
    .addHelpText("after", "\nExamples:\n  oscd rollback --dry-run\n  oscd rollback\n  oscd rollback --to 12\n")
    .action(async (o: { to?: string; config: string; dryRun?: boolean; json?: boolean; quiet?: boolean }) => {
      const machine = await loadMachineConfig(o.config);
      const gens = await generations();
      const cur = gens.find((g) => g.current);
      let target;
      if (o.to !== undefined) {
        const n = Number(o.to);
        target = gens.find((g) => g.generation === n);
        if (!Number.isInteger(n) || !target) throw new UsageError(`there is no generation ${o.to}`, `generations: ${gens.map((g) => g.generation).join(", ") || "(none)"}`, "no-such-generation");
      } else {
        target = [...gens].reverse().find((g) => cur && g.generation < cur.generation);
        if (!target) throw new UsageError("there is no generation before the current one", "list them with oscd generations", "no-such-generation");
      }
      if (o.dryRun) {
        const host = machine.host ?? hostname();
        const label = (g: { generation: number; version?: string | null }) => `generation ${g.generation}${g.version ? ` (${g.version})` : ""}`;
        const plan = dryRunPlan("rollback", ["read the generations"]);
        plan.steps.push({ action: "switch", target: target.toplevel, host, detail: `${cur ? label(cur) : "no current generation"} → ${label(target)}, then the health checks (a failure goes back again)` });
        return printDryRun(plan, o.json);
      }
      const result = await activate({
        toplevel: target.toplevel,
        mode: "switch",
        generation: target.generation,
        host: machine.host,
        release: { version: target.version, commit: target.commit, ref: target.ref, sourcePath: target.sourcePath },
        health: healthSchema.parse(machine.health ?? {}),
        force: true,
        onProgress: progressPrinter(!o.quiet && !o.json, machine.host ?? hostname()),
      });
      if (o.json) printJson(result);
      else printActivation(result);
    });
}
