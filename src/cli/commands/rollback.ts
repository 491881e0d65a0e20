import { Command } from "commander";
import { hostname } from "node:os";
import { activate, generations } from "../../activate/index.js";
import { UsageError } from "../../core/errors.js";
import { healthSchema, loadMachineConfig } from "../../fleet/index.js";
import { printJson, writeStdout } from "../output.js";
import { progressPrinter } from "../progress.js";
import { printActivation } from "./print-activation.js";

export function registerRollback(program: Command): void {
  program
    .command("rollback")
    .description("switch back to the previous generation (or --to a given one), with health checks")
    .option("--to <generation>", "the generation number to go back to (see oscd generations)")
    .option("--config <file>", "machine configuration", "/etc/oscd/machine.toml")
    .option("--dry-run", "say which generation it would switch to, change nothing")
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
        const brief = (g: typeof cur) => g && { generation: g.generation, toplevel: g.toplevel, version: g.version ?? null, commit: g.commit ?? null };
        if (o.json) printJson({ dryRun: true, host: machine.host ?? hostname(), from: brief(cur) ?? null, to: brief(target) });
        else writeStdout(`would roll back ${machine.host ?? hostname()} from generation ${cur ? `${cur.generation}${cur.version ? ` (${cur.version})` : ""}` : "(none current)"} to generation ${target.generation}${target.version ? ` (${target.version})` : ""}: ${target.toplevel}\nnothing was changed (--dry-run)\n`);
        return;
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
