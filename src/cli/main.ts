import { Command, CommanderError, Option } from "commander";
import { readFileSync } from "node:fs";
import { setCommandLog } from "../core/command-log.js";
import { EXIT, isOscdError, type ExitCode } from "../core/errors.js";
import { COLOUR_MODES, setColourMode, type ColourMode } from "./colour.js";
import { COMMANDS, invokedCommand, type CommandEntry } from "./commands/index.js";
import { addNixOptions, applyNixFlags, EVALUATING_COMMANDS, joinOptionPairs, type NixFlags } from "./nix-options.js";
import { indentedDetail, oneLine } from "./one-line.js";

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function baseProgram(): Command {
  return new Command("oscd")
    .description("OS continuous deployment for NixOS fleets: from a git commit to a running, verified system on every machine")
    .version(packageVersion(), "-V, --version", "print the oscd version")
    .option("-v, --verbose", "show every command oscd runs (nix, git, ssh…) with its exit status and duration, secrets masked; twice: also their output", (_v: string, n: number) => n + 1, 0)
    .addOption(new Option("--color <when>", "colour the output: auto (on a terminal, unless NO_COLOR is set), always or never").choices(COLOUR_MODES).default("auto"))
    // Commander's own error output (a message, or help for a missing subcommand) is replaced
    // by the contract's two lines from reportError.
    .configureOutput({ outputError: () => undefined, writeErr: () => undefined })
    .exitOverride()
    .addHelpText(
      "after",
      `
Examples:
  oscd --version
  oscd keys generate fleet-1         # a Nix-format signing key pair
  oscd upgrade --tag v1.4.0          # on a machine: build and switch to a release
  oscd status --json

Run 'oscd COMMAND --help' for a command's options and examples.
Exit codes: 0 done, 1 failed, 2 bad usage or configuration, 3 refused by a guard, 4 rolled back.`,
    );
}

/**
 * The global flags take effect before a command's action runs: -v for every program oscd
 * starts, --color for everything printed, and the command's Nix flags (when it has them) for
 * every Nix call it makes.
 */
function applyGlobalFlags(program: Command, action: Command): void {
  const g = program.opts<{ verbose: number; color: ColourMode }>();
  setCommandLog({ level: g.verbose });
  setColourMode(g.color);
  const own = action.opts<NixFlags>();
  if ("showTrace" in own || "printBuildLogs" in own || "option" in own || "impure" in own) applyNixFlags(own);
}

/**
 * The program for a command line: the command it runs is loaded and registered in full, every
 * other command only by name and summary (enough for `oscd --help`).
 */
export async function buildProgram(args: readonly string[] = []): Promise<Command> {
  const program = baseProgram();
  program.hook("preAction", (_self, action) => applyGlobalFlags(program, action));
  const wanted = invokedCommand(args);
  for (const entry of COMMANDS) {
    if (entry === wanted) await registerCommand(program, entry);
    else program.command(entry.name).description(entry.summary);
  }
  return program;
}

/** Registers a command in full, with the flags every command of its kind shares. */
async function registerCommand(program: Command, entry: CommandEntry): Promise<void> {
  (await entry.load())(program);
  const cmd = program.commands.find((c) => c.name() === entry.name);
  if (cmd && EVALUATING_COMMANDS.has(entry.name)) addNixOptions(cmd);
}

/** Every command registered in full (tests, completions). */
export async function buildFullProgram(): Promise<Command> {
  const program = baseProgram();
  for (const entry of COMMANDS) await registerCommand(program, entry);
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
    if (err.detail) write(`${indentedDetail(err.detail)}\n`);
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

export async function main(rawArgv: string[]): Promise<void> {
  const argv = [...rawArgv.slice(0, 2), ...joinOptionPairs(rawArgv.slice(2))];
  const args = argv.slice(2);
  let program: Command | undefined;
  try {
    program = await buildProgram(args);
    await program.parseAsync(argv);
    process.exitCode = process.exitCode ?? EXIT.ok;
  } catch (err) {
    process.exitCode = reportError(err, undefined, { command: invokedCommand(args), program, args });
  }
}
