import { Command, Option } from "commander";
import { readFileSync } from "node:fs";
import { setCommandLog } from "../core/command-log.js";
import { setWarningSink } from "../core/warnings.js";
import { warn } from "./progress.js";
import { EXIT } from "../core/errors.js";
import { COLOUR_MODES, setColourMode, type ColourMode } from "./colour.js";
import { COMMANDS, invokedCommand, type CommandEntry } from "./commands/index.js";
import { addNixOptions, applyNixFlags, EVALUATING_COMMANDS, joinOptionPairs, type NixFlags } from "./nix-options.js";
import { addDeprecatedFlags } from "./deprecated-flags.js";
import { HELP_CONFIG } from "./help-format.js";
import { helpGroupOf, HELP_GROUPS, HIDDEN_COMMANDS } from "./help-groups.js";
import { stdoutHasJson, watchStdout } from "./output.js";
import { reportError, reportErrorJson, wantsJson } from "./report-error.js";

export { reportError, reportErrorJson, usageMessage } from "./report-error.js";

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function baseProgram(): Command {
  return new Command("oscd")
    .description("OS continuous deployment for NixOS fleets: from a git commit to a running, verified system on every machine")
    .version(packageVersion(), "-V, --version", "print the oscd version")
    .option("-v, --verbose", "show every command oscd runs (nix, git, ssh…) with its exit status and duration, secrets masked; twice: also their output", (_v: string, n: number) => n + 1, 0)
    .addOption(new Option("--color <when>", "colour the output; auto: on a terminal, unless NO_COLOR is set").choices(COLOUR_MODES).default("auto"))
    .configureHelp(HELP_CONFIG)
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
 * The global flags take effect before a command's action runs: -v for every program oscd
 * starts, --color for everything printed, and the command's Nix flags (when it has them) for
 * every Nix call it makes.
 */
async function applyGlobalFlags(program: Command, action: Command): Promise<void> {
  const g = program.opts<{ verbose: number; color: ColourMode }>();
  setCommandLog({ level: g.verbose });
  setColourMode(g.color);
  setWarningSink((m) => warn(m));
  const own = action.opts<NixFlags>();
  if ("showTrace" in own || "printBuildLogs" in own || "option" in own || "impure" in own) await applyNixFlags(own);
}

/**
 * The program for a command line: the command it runs is loaded and registered in full. The
 * other commands, by name and summary, only when the line may need them: `oscd --help`, a
 * mistyped command (commander suggests one), no command at all. A line that runs a command
 * reaches none of them, and registering them cost every start some 2 ms of CPU.
 */
export async function buildProgram(args: readonly string[] = []): Promise<Command> {
  const program = baseProgram();
  program.hook("preAction", (_self, action) => applyGlobalFlags(program, action));
  const wanted = invokedCommand(args);
  const listAll = wanted === undefined || args.some((a) => a === "--help" || a === "-h");
  for (const entry of inHelpOrder()) {
    if (entry === wanted) await registerCommand(program, entry);
    else if (listAll) placeCommand(program.command(entry.name, { hidden: HIDDEN_COMMANDS.has(entry.name) }).description(entry.summary), entry);
  }
  return withHelpCommand(program);
}

/** The --color value of a command line (commander checks it properly when it parses). */
function colourFlag(args: readonly string[]): ColourMode {
  let mode: ColourMode = "auto";
  for (let i = 0; i < args.length && args[i] !== "--"; i++) {
    const v = args[i] === "--color" ? args[i + 1] : args[i]?.startsWith("--color=") ? args[i]?.slice("--color=".length) : undefined;
    if (v !== undefined && (COLOUR_MODES as readonly string[]).includes(v)) mode = v as ColourMode;
  }
  return mode;
}

/** `oscd help COMMAND`, listed under Setup rather than a heading of its own. */
function withHelpCommand(program: Command): Command {
  return program.commandsGroup(HELP_GROUPS.setup).helpCommand("help [command]", "show a command's help");
}

/** The commands in the order of their help groups (commander shows groups in the order first met). */
function inHelpOrder(): CommandEntry[] {
  const order: string[] = Object.values(HELP_GROUPS);
  const rank = (e: CommandEntry) => {
    const i = order.indexOf(helpGroupOf(e.name) ?? "");
    return i < 0 ? order.length : i;
  };
  return [...COMMANDS].sort((a, b) => rank(a) - rank(b));
}

/** A command's heading in `oscd --help`, and hidden when internal. */
function placeCommand(cmd: Command, entry: CommandEntry): void {
  const group = helpGroupOf(entry.name);
  if (group) cmd.helpGroup(group);
  // Commander hides a command only when it is created hidden; a command module creates its own.
  if (HIDDEN_COMMANDS.has(entry.name)) (cmd as unknown as { _hidden: boolean })._hidden = true;
}

/** Registers a command in full, with the flags every command of its kind shares. */
async function registerCommand(program: Command, entry: CommandEntry): Promise<void> {
  (await entry.load())(program);
  const cmd = program.commands.find((c) => c.name() === entry.name);
  if (!cmd) return;
  placeCommand(cmd, entry);
  addDeprecatedFlags(cmd);
  if (EVALUATING_COMMANDS.has(entry.name)) addNixOptions(cmd);
}

/** Every command registered in full (tests, completions). */
export async function buildFullProgram(): Promise<Command> {
  const program = baseProgram();
  for (const entry of inHelpOrder()) await registerCommand(program, entry);
  return withHelpCommand(program);
}

export async function main(rawArgv: string[]): Promise<void> {
  const argv = [...rawArgv.slice(0, 2), ...joinOptionPairs(rawArgv.slice(2))];
  const args = argv.slice(2);
  watchStdout();
  // Decided before parsing too, so a usage error commander finds is coloured like any other.
  setColourMode(colourFlag(args));
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
    const context = { command: invokedCommand(args), program, args };
    // --json: the error as JSON on stdout, unless the command already wrote its JSON result
    // there (which then carries the failures itself); the text lines go to stderr either way,
    // for the person reading a CI log.
    if (wantsJson(args) && !stdoutHasJson()) reportErrorJson(err, undefined, context);
    process.exitCode = reportError(err, undefined, context);
  }
}
