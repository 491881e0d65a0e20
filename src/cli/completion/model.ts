import type { Command } from "commander";

/**
 * What a shell needs to complete an oscd command line, read from the commander program itself
 * (every command, subcommand and option, including ones added later): no hand-kept list.
 */
export interface CompletionOption {
  /** `-o`, `--out`: the spellings of one option. */
  flags: string[];
  /** Whether the next word is the option's value (`--config <file>`), not a new word. */
  takesValue: boolean;
  /** The values it accepts, when commander knows them (`--mode` switch|boot|…). */
  choices: string[];
  description: string;
}

export interface CompletionCommand {
  /** `["oscd", "agent", "fetch"]`. */
  path: string[];
  subcommands: { name: string; description: string }[];
  options: CompletionOption[];
  /** The choices of its first positional argument (`oscd completion bash|zsh|fish`), if any. */
  argumentChoices: string[];
}

/** A word a script may carry unquoted in every shell (names, flags, choices). */
const PLAIN_WORD = /^[A-Za-z0-9_.:+@%,/=-]+$/;

function plain(word: string, what: string): string {
  // The scripts put names and flags into case patterns and word lists: refuse anything a shell
  // would read as syntax, so a future command cannot break (or inject into) the scripts.
  if (!PLAIN_WORD.test(word)) throw new Error(`completion: ${what} ${JSON.stringify(word)} is not a plain word`);
  return word;
}

function optionsOf(cmd: Command): CompletionOption[] {
  const options: CompletionOption[] = cmd.options
    .filter((o) => !o.hidden)
    .map((o) => ({
      flags: [o.short, o.long].filter((f): f is string => typeof f === "string").map((f) => plain(f, "option")),
      takesValue: o.required || o.optional,
      choices: (o.argChoices ?? []).map((c) => plain(c, "choice")),
      description: o.description,
    }));
  // Commander answers --help on every command without listing it among the options.
  if (!options.some((o) => o.flags.includes("--help"))) options.push({ flags: ["-h", "--help"], takesValue: false, choices: [], description: "show help for the command" });
  return options;
}

export function completionModel(program: Command): CompletionCommand[] {
  const out: CompletionCommand[] = [];
  const walk = (cmd: Command, path: string[]): void => {
    const visible = cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
    out.push({
      path,
      subcommands: visible.map((c) => ({ name: plain(c.name(), "command"), description: c.description() })),
      options: optionsOf(cmd),
      argumentChoices: (cmd.registeredArguments[0]?.argChoices ?? []).map((c) => plain(c, "choice")),
    });
    for (const c of visible) walk(c, [...path, c.name()]);
  };
  walk(program, [plain(program.name(), "program")]);
  return out;
}

/** The key scripts use for a command: its path joined by spaces (`oscd agent fetch`). */
export const pathKey = (c: CompletionCommand) => c.path.join(" ");

/** Options whose next word is their value. */
export const valuedFlags = (c: CompletionCommand) => c.options.filter((o) => o.takesValue).flatMap((o) => o.flags);
