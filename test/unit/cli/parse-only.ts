import { CommanderError, type Command } from "commander";
import { buildFullProgram } from "../../../src/cli/main.js";
import { joinOptionPairs } from "../../../src/cli/nix-options.js";

/** Every command of the program, depth first, with its path of names. */
export function allCommands(cmd: Command, path: string[] = []): { path: string[]; cmd: Command }[] {
  return cmd.commands.flatMap((c) => [{ path: [...path, c.name()], cmd: c }, ...allCommands(c, [...path, c.name()])]);
}

/** Parses a command line with commander, running no action: throws what a user would see. */
export async function parseOnly(argv: string[]): Promise<void> {
  const program = await buildFullProgram();
  for (const { cmd } of [{ cmd: program }, ...allCommands(program)]) {
    if (cmd !== program) cmd.action(() => undefined);
    cmd.configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined });
  }
  try {
    await program.parseAsync(["node", ...joinOptionPairs(argv)]);
  } catch (e) {
    // --version and --help end parsing by throwing, with exit code 0.
    if (!(e instanceof CommanderError && e.exitCode === 0)) throw e;
  }
}
