import { Command, CommanderError } from "commander";
import { readFileSync } from "node:fs";
import { EXIT, isOscdError, type ExitCode } from "../core/errors.js";
import { COMMANDS, invokedCommand, type CommandEntry } from "./commands/index.js";
import { oneLine } from "./one-line.js";

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function baseProgram(): Command {
  return new Command("oscd")
    .description("OS continuous deployment for NixOS fleets: from a git commit to a running, verified system on every machine")
    .version(packageVersion(), "-V, --version", "print the oscd version")
    // Commander's own error output (a message, or help for a missing subcommand) is replaced
    // by the contract's two lines from reportError.
    .configureOutput({ outputError: () => undefined, writeErr: () => undefined })
    .exitOverride()
    .addHelpText(
      "after",
      `
Examples:
  oscd --version
  oscd --version --verbose           # also Node and the Nix (or Lix) found, and where
  oscd keys generate fleet-1         # a Nix-format signing key pair
  oscd upgrade --tag v1.4.0          # on a machine: build and switch to a release
  oscd status --json

Run 'oscd COMMAND --help' for a command's options and examples.
Exit codes: 0 done, 1 failed, 2 bad usage or configuration, 3 refused by a guard, 4 rolled back.`,
    );
}

/**
 * The program for a command line: the command it runs is loaded and registered in full, every
 * other command only by name and summary (enough for `oscd --help`).
 */
export async function buildProgram(args: readonly string[] = []): Promise<Command> {
  const program = baseProgram();
  const wanted = invokedCommand(args);
  for (const entry of COMMANDS) {
    if (entry === wanted) (await entry.load())(program);
    else program.command(entry.name).description(entry.summary);
  }
  return program;
}

/** Every command registered in full (tests, completions). */
export async function buildFullProgram(): Promise<Command> {
  const program = baseProgram();
  for (const entry of COMMANDS) (await entry.load())(program);
  return program;
}

const HELP_CODES = new Set(["commander.helpDisplayed", "commander.version", "commander.help"]);

function isHelpOrVersion(err: CommanderError): boolean {
  return HELP_CODES.has(err.code) && err.exitCode === 0;
}

function commandPath(program: Command, cmd: Command): string {
  const path: string[] = [];
  for (let c: Command | null = cmd; c && c !== program; c = c.parent) path.unshift(c.name());
  return path.join(" ");
}

function usageHint(command: CommandEntry | undefined, program: Command | undefined, args: readonly string[]): string {
  const path = program ? commandPath(program, deepestCommand(program, args)) : command?.name;
  return path ? `run 'oscd ${path} --help' for its options and examples` : "run 'oscd --help' for the commands";
}

/** The command a line names, as deep as its words go (for "needs a subcommand"). */
function deepestCommand(program: Command, args: readonly string[]): Command {
  let cmd = program;
  for (const w of args) {
    if (w.startsWith("-")) continue;
    const sub = cmd.commands.find((c) => c.name() === w);
    if (!sub) break;
    cmd = sub;
  }
  return cmd;
}

/**
 * Commander's usage message as one line. A command that needs a subcommand reports
 * `commander.help` with a non-zero exit (it would print its help to stderr instead).
 */
export function usageMessage(err: CommanderError, program: Command | undefined, args: readonly string[]): string {
  if (err.code === "commander.help" && program) {
    const cmd = deepestCommand(program, args);
    return `'oscd ${commandPath(program, cmd)}' needs a subcommand: ${cmd.commands.map((c) => c.name()).join(", ")}`;
  }
  return err.message.replace(/^error: /, "");
}

/** Prints one error line and a hint, as DESIGN.md asks, and returns the exit code. */
export function reportError(
  err: unknown,
  write: (s: string) => void = (s) => process.stderr.write(s),
  context: { command?: CommandEntry; program?: Command; args?: readonly string[] } = {},
): ExitCode {
  if (isOscdError(err)) {
    write(`oscd: error[${err.code}]: ${oneLine(err.message)}\n`);
    if (err.hint) write(`hint: ${oneLine(err.hint)}\n`);
    return err.exitCode;
  }
  if (err instanceof CommanderError) {
    if (isHelpOrVersion(err)) return EXIT.ok;
    write(`oscd: error[usage]: ${oneLine(usageMessage(err, context.program, context.args ?? []))}\n`);
    write(`hint: ${usageHint(context.command, context.program, context.args ?? [])}\n`);
    return EXIT.usage;
  }
  const message = err instanceof Error ? err.message : String(err);
  write(`oscd: error[internal]: ${oneLine(message)}\n`);
  write("hint: this is a bug in oscd; please report it with the command you ran\n");
  return EXIT.failed;
}

export async function main(argv: string[]): Promise<void> {
  const args = argv.slice(2);
  let program: Command | undefined;
  // Commander answers --version at once and would never see --verbose.
  if (args.length === 2 && args.some((a) => a === "--version" || a === "-V") && args.includes("--verbose")) {
    const { verboseVersion } = await import("./nix-found.js");
    process.stdout.write(await verboseVersion(packageVersion()));
    process.exitCode = EXIT.ok;
    return;
  }
  try {
    program = await buildProgram(args);
    await program.parseAsync(argv);
    process.exitCode = process.exitCode ?? EXIT.ok;
  } catch (err) {
    process.exitCode = reportError(err, undefined, { command: invokedCommand(args), program, args });
  }
}
