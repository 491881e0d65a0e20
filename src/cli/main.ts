import { Command, CommanderError } from "commander";
import { readFileSync } from "node:fs";
import { EXIT, isOscdError, type ExitCode } from "../core/errors.js";
import { registerCommands } from "./commands/index.js";

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command("oscd")
    .description("OS continuous deployment for NixOS fleets: from a git commit to a running, verified system on every machine")
    .version(packageVersion(), "-V, --version", "print the oscd version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ outputError: (str, write) => write(str) })
    .exitOverride()
    .addHelpText(
      "after",
      `
Examples:
  oscd --version
  oscd keys generate fleet-1         # a Nix-format signing key pair

Exit codes: 0 done, 1 failed, 2 bad usage or configuration, 3 refused by a guard, 4 rolled back.`,
    );
  registerCommands(program);
  return program;
}

/** Prints one error line and a hint, as DESIGN.md asks, and returns the exit code. */
export function reportError(err: unknown, write: (s: string) => void = (s) => process.stderr.write(s)): ExitCode {
  if (isOscdError(err)) {
    write(`oscd: error[${err.code}]: ${err.message}\n`);
    if (err.hint) write(`hint: ${err.hint}\n`);
    return err.exitCode;
  }
  if (err instanceof CommanderError) {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return EXIT.ok;
    return EXIT.usage;
  }
  const message = err instanceof Error ? err.message : String(err);
  write(`oscd: error[internal]: ${message}\n`);
  write("hint: this is a bug in oscd; please report it with the command you ran\n");
  return EXIT.failed;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    process.exitCode = process.exitCode ?? EXIT.ok;
  } catch (err) {
    process.exitCode = reportError(err);
  }
}
