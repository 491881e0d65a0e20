import { Command, CommanderError } from "commander";
import { EXIT, isOscdError, type ExitCode } from "../core/errors.js";
import { paint, type Paint } from "./colour.js";
import type { CommandEntry } from "./commands/index.js";
import { indentedDetail, oneLine } from "./one-line.js";

/**
 * What an error tells the user, whatever threw it: an OscdError, a usage error commander found,
 * or a bug. Printed as the contract's lines (DESIGN.md) or, with --json, as one JSON object.
 */
export interface ErrorReport {
  code: string;
  message: string;
  hint?: string;
  /** A tool's full message (Nix's), shown whole after the summary. */
  detail?: string;
  exitCode: ExitCode;
}

export interface ErrorContext {
  command?: CommandEntry;
  program?: Command;
  args?: readonly string[];
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

/** Commander's "(Did you mean build?)", which belongs in the hint, not the error line. */
const SUGGESTION = /\s*\(Did you mean (.+?)\?\)\s*$/;

/**
 * Commander's usage message as one line, without its suggestion. A command that needs a
 * subcommand reports `commander.help` with a non-zero exit (it would print its help to stderr).
 */
export function usageMessage(err: CommanderError, program: Command | undefined, args: readonly string[]): string {
  if (err.code === "commander.help" && program) {
    const cmd = deepestCommand(program, args);
    return `'oscd ${commandPath(program, cmd)}' needs a subcommand: ${cmd.commands.map((c) => c.name()).join(", ")}`;
  }
  return err.message.replace(/^error: /, "").replace(SUGGESTION, "");
}

function usageHint(err: CommanderError, context: ErrorContext): string {
  const args = context.args ?? [];
  const program = context.program;
  const path = program ? commandPath(program, deepestCommand(program, args)) : context.command?.name;
  const help = path ? `run 'oscd ${path} --help' for its options and examples` : "run 'oscd --help' for the commands";
  const suggestion = SUGGESTION.exec(err.message)?.[1];
  return suggestion ? `did you mean ${suggestion}? ${help}` : help;
}

const same = (s: string) => s;
const PLAIN: Paint = { red: same, green: same, yellow: same, cyan: same, bold: same, dim: same };

/** The report of an error; undefined for --help and --version, which are not errors. */
export function errorReport(err: unknown, context: ErrorContext = {}): ErrorReport | undefined {
  if (isOscdError(err)) return { code: err.code, message: err.message, hint: err.hint, detail: err.detail, exitCode: err.exitCode };
  if (err instanceof CommanderError) {
    if (isHelpOrVersion(err)) return undefined;
    return { code: "usage", message: usageMessage(err, context.program, context.args ?? []), hint: usageHint(err, context), exitCode: EXIT.usage };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: "internal", message, hint: "this is a bug in oscd; please report it with the command you ran", exitCode: EXIT.failed };
}

/** Prints one error line, the tool's full message when there is one, and a hint; returns the exit code. */
export function reportError(err: unknown, writer?: (s: string) => void, context: ErrorContext = {}): ExitCode {
  const r = errorReport(err, context);
  if (!r) return EXIT.ok;
  // Colour only when writing to the real stderr (a test's writer gets plain text).
  const p = writer === undefined ? paint("stderr") : PLAIN;
  const write = writer ?? ((s: string) => process.stderr.write(s));
  write(`oscd: ${p.red(p.bold(`error[${r.code}]`))}: ${oneLine(r.message)}\n`);
  if (r.detail) write(`${indentedDetail(r.detail)}\n`);
  if (r.hint) write(`${p.cyan("hint:")} ${oneLine(r.hint)}\n`);
  return r.exitCode;
}

/**
 * With --json the error is one JSON object on stdout, so a script reading stdout gets it:
 * `{"error":{"code","message","hint"}}` (and "detail" when a tool said more). Exit codes
 * are the same as in text.
 */
export function reportErrorJson(err: unknown, write: (s: string) => void = (s) => process.stdout.write(s), context: ErrorContext = {}): ExitCode {
  const r = errorReport(err, context);
  if (!r) return EXIT.ok;
  const error: Record<string, string> = { code: r.code, message: r.message };
  if (r.hint !== undefined) error.hint = r.hint;
  if (r.detail !== undefined) error.detail = r.detail;
  write(`${JSON.stringify({ error })}\n`);
  return r.exitCode;
}

/** Whether a command line asks for JSON output (`--json`, or impact's `--format json`). */
export function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  const flags = end < 0 ? args : args.slice(0, end);
  return flags.some((a, i) => a === "--json" || a === "--format=json" || (a === "--format" && flags[i + 1] === "json"));
}
