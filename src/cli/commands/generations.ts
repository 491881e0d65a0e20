import { Command } from "commander";
import { generations } from "../../activate/index.js";
import { printJson, printTable } from "../output.js";

export function registerGenerations(program: Command): void {
  program
    .command("generations")
    .description("list the system generations with their version, commit, ref and source")
    .option("--json", "print as JSON")
    .addHelpText("after", "\nExamples:\n  oscd generations\n  oscd generations --json | jq '.[] | select(.current)'\n\nMarks: * current profile, B booted, R running.\n")
    .action(async (o: { json?: boolean }) => {
      const gens = await generations();
      if (o.json) return printJson(gens);
      printTable(
        ["GEN", "MARK", "DATE", "VERSION", "COMMIT", "REF", "SOURCE"],
        gens.map((g) => [String(g.generation), `${g.current ? "*" : " "}${g.booted ? "B" : " "}${g.running ? "R" : " "}`, g.date.slice(0, 19).replace("T", " "), g.version ?? "-", g.commit?.slice(0, 12) ?? "-", g.ref ?? "-", g.sourcePath ?? "-"]),
      );
    });
}
