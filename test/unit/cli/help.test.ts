import { Command, Option } from "commander";
import { HELP_CONFIG } from "../../../src/cli/help-format.js";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../../src/cli/commands/index.js";
import { helpGroupOf, HIDDEN_COMMANDS } from "../../../src/cli/help-groups.js";
import { buildFullProgram, buildProgram } from "../../../src/cli/main.js";
import { allCommands } from "./parse-only.js";

/** Option help lines that state a default twice, or an empty list as one. */
function doubledDefaults(help: string): string[] {
  return help
    .split(/\n(?=\s{2}-)/)
    // One option's entry: from its flags to the next option or the end of the list (a blank
    // line); the usage and description above the first option are not an option's help.
    .filter((l) => /^\s{2}-/.test(l))
    .map((l) => (l.split("\n\n")[0] ?? l).replace(/\s+/g, " ").trim())
    .filter((l) => (l.match(/\(default|default:/g) ?? []).length > 1 || l.includes("default: []"));
}

function helpText(cmd: Command): string {
  let out = "";
  cmd.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

describe("oscd --help", () => {
  it("groups the commands under headings, with the internal deploy-target hidden", async () => {
    for (const program of [await buildProgram([]), await buildFullProgram()]) {
      const help = helpText(program);
      const headings = [...help.matchAll(/^([A-Z][A-Za-z ]+):$/gm)].map((m) => m[1]);
      expect(headings).toEqual(["Options", "On a machine", "Fleet and CI", "Control server", "Inspection", "Setup", "Examples"]);
      expect(help).not.toMatch(/^Commands:$/m);
      expect(help).not.toMatch(/deploy-target/);
      expect(help).toMatch(/^On a machine:\n {2}activate /m);
      expect(help).toMatch(/^ {2}help \[command\] /m);
    }
  });

  it("every command has a group; a new command must be placed", () => {
    for (const c of COMMANDS) if (!HIDDEN_COMMANDS.has(c.name)) expect(helpGroupOf(c.name), c.name).toBeDefined();
  });

  it("no option's help says its default twice, or shows an empty list as a default", async () => {
    const program = await buildFullProgram();
    const bad: string[] = [];
    for (const { path, cmd } of [{ path: [] as string[], cmd: program }, ...allCommands(program)]) {
      for (const line of doubledDefaults(helpText(cmd))) bad.push(`oscd ${path.join(" ")}: ${line}`);
    }
    expect(bad).toEqual([]);
    // The check sees what commander prints without oscd's help format, and oscd's format fixes it.
    const raw = new Command("x").option("--on <selection>", "hosts (default: all)", (v: string, p: string[]) => [...p, v], []).addOption(new Option("--valid-for <d>", "how long (default: 7d)").default("7d"));
    expect(doubledDefaults(helpText(raw))).toHaveLength(2);
    expect(doubledDefaults(helpText(raw.configureHelp(HELP_CONFIG)))).toEqual([]);
  });

  it("global flags (-v, --color) show in every command's help", async () => {
    const program = await buildFullProgram();
    const build = program.commands.find((c) => c.name() === "build") as Command;
    expect(helpText(build)).toMatch(/Global Options:[\s\S]*--verbose[\s\S]*--color/);
  });
});
