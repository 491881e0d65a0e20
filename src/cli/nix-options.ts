import { Option, type Command } from "commander";
import { UsageError } from "../core/errors.js";
import { paint } from "./colour.js";
import { progressLine } from "./progress.js";

/** The commands that evaluate or build Nix code, so take the Nix flags (see registerCommand). */
export const EVALUATING_COMMANDS: ReadonlySet<string> = new Set(["build", "publish", "image", "deploy", "bundle", "upgrade", "update", "option", "diff", "impact", "init"]);

/**
 * The Nix flags of every command that evaluates or builds, as Nix spells them. They go to every
 * Nix call the command makes (nix/globals.ts), not to one step of it.
 */
export function addNixOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--show-trace", "on an evaluation error, show Nix's full trace").helpGroup("Nix options:"))
    .addOption(new Option("-L, --print-build-logs", "stream the build logs, each line named for its host").helpGroup("Nix options:"))
    .addOption(new Option("--option <name> <value>", "a Nix setting for every Nix call, as nix --option (repeatable)").argParser(collectSetting).helpGroup("Nix options:"))
    .addOption(new Option("--impure", "evaluate in Nix's impure mode (environment variables, builtins.currentSystem)").helpGroup("Nix options:"));
}

export interface NixFlags {
  showTrace?: boolean;
  printBuildLogs?: boolean;
  option?: [string, string][];
  impure?: boolean;
}

/** Nix setting names: letters, digits and dashes (`max-jobs`, `extra-substituters`). */
const SETTING_NAME = /^[A-Za-z][A-Za-z0-9-]*$/;

function collectSetting(v: string, prev: [string, string][] = []): [string, string][] {
  const eq = v.indexOf("=");
  const name = eq < 0 ? v : v.slice(0, eq);
  if (eq < 0 || !SETTING_NAME.test(name)) throw new UsageError(`--option takes a Nix setting name and a value, got ${JSON.stringify(v)}`, "e.g. --option max-jobs 4 (or --option max-jobs=4)", "usage");
  return [...prev, [name, v.slice(eq + 1)]];
}

/**
 * `--option NAME VALUE` is two words, as in Nix; commander's options take one, so the pair is
 * joined to `NAME=VALUE` before parsing (`--option NAME=VALUE` is taken as it is). Nothing after
 * `--` is touched.
 */
export function joinOptionPairs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--") return [...out, ...args.slice(i)];
    const name = args[i + 1];
    const value = args[i + 2];
    if (a === "--option" && name !== undefined && value !== undefined && !name.includes("=") && SETTING_NAME.test(name)) {
      out.push(a, `${name}=${value}`);
      i += 2;
    } else out.push(a);
  }
  return out;
}

/**
 * Applies a command's Nix flags to the process's Nix calls; build logs go to stderr per host.
 * The Nix stage is imported here, not at the top: every command line loads this file, and
 * only the commands with Nix flags need the stage (the others start faster without it).
 */
export async function applyNixFlags(o: NixFlags, write: (s: string) => void = (s) => process.stderr.write(s)): Promise<void> {
  const { setNixGlobals } = await import("../nix/index.js");
  setNixGlobals({
    showTrace: o.showTrace,
    printBuildLogs: o.printBuildLogs,
    options: o.option,
    impure: o.impure,
    onBuildLog: o.printBuildLogs ? (who, line) => write(`${progressLine(who, "log", line, paint("stderr"), Infinity)}\n`) : undefined,
  });
}
