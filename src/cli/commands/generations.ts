import { Command } from "commander";
import { generations, retentionPlan, DEFAULT_LAYOUT } from "../../activate/index.js";
import { loadMachineConfig, retentionSchema } from "../../fleet/index.js";
import { printJson, printTable } from "../output.js";

export function registerGenerations(program: Command): void {
  program
    .command("generations")
    .description("list the system generations with their version, commit, ref and source")
    .option("--json", "print as JSON")
    .option("--dry-run", "also show which generations retention (machine configuration) would remove, and why the others stay")
    .option("--config <file>", "with --dry-run: machine configuration", "/etc/oscd/machine.toml")
    .addHelpText(
      "after",
      "\nExamples:\n  oscd generations\n  oscd generations --json | jq '.[] | select(.current)'\n  oscd generations --dry-run          # which would go (oscd gc removes them)\n\nMarks: * current profile, B booted, R running.\n",
    )
    .action(async (o: { json?: boolean; dryRun?: boolean; config: string }) => {
      const gens = await generations();
      let fate: Map<number, string[]> | undefined;
      if (o.dryRun) {
        const policy = retentionSchema.parse((await loadMachineConfig(o.config)).retention ?? {});
        fate = new Map((await retentionPlan(DEFAULT_LAYOUT, policy)).map((p) => [p.generation, p.keep]));
      }
      if (o.json) return printJson(fate ? gens.map((g) => ({ ...g, keep: fate.get(g.generation) ?? [], wouldRemove: (fate.get(g.generation) ?? []).length === 0 })) : gens);
      printTable(
        ["GEN", "MARK", "DATE", "VERSION", "COMMIT", "REF", ...(fate ? ["RETENTION"] : []), "SOURCE"],
        gens.map((g) => {
          const keep = fate?.get(g.generation);
          return [
            String(g.generation),
            `${g.current ? "*" : " "}${g.booted ? "B" : " "}${g.running ? "R" : " "}`,
            g.date.slice(0, 19).replace("T", " "),
            g.version ?? "-",
            g.commit?.slice(0, 12) ?? "-",
            g.ref ?? "-",
            ...(fate ? [keep && keep.length > 0 ? `keep (${keep.join(", ")})` : "would go"] : []),
            g.sourcePath ?? "-",
          ];
        }),
      );
    });
}
