/**
 * What a user asks of every Nix call a command makes (`--show-trace`, `-L`, `--option NAME
 * VALUE`, `--impure`): set once by the CLI for the process, applied by nixRun to each call,
 * so no stage has to thread them through. A process that sets nothing (the agent, the server,
 * the tests) runs Nix exactly as before.
 */
export interface NixGlobals {
  /** `--show-trace` on every Nix call: evaluation errors with their full trace. */
  showTrace?: boolean;
  /** Stream build logs (`-L`): realiseJobs hands each line to onBuildLog, named for its host. */
  printBuildLogs?: boolean;
  /** `--option NAME VALUE` on every Nix call, in order, after oscd's own settings. */
  options?: readonly (readonly [string, string])[];
  /** `--impure` on every evaluation (`nix eval`, `nix flake …`). */
  impure?: boolean;
  /** Where streamed build log lines go: `who` is a host name, or the derivation's name. */
  onBuildLog?: (who: string, line: string) => void;
}

let current: NixGlobals = {};

export function setNixGlobals(g: NixGlobals): void {
  current = { ...g };
}

export function nixGlobals(): Readonly<NixGlobals> {
  return current;
}

/** The `nix` subcommands that evaluate Nix code, so `--impure` means something to them. */
const EVALUATING = new Set(["eval", "flake", "build"]);

/**
 * The arguments the globals add to a call of `program` with `args`: before oscd's own, so a
 * setting oscd passes itself (per call, for correctness) still wins where both name it.
 */
export function globalArgs(program: string, args: readonly string[], g: NixGlobals = current): string[] {
  if (args[0] === "--version") return [];
  const out: string[] = [];
  if (g.showTrace) out.push("--show-trace");
  for (const [name, value] of g.options ?? []) out.push("--option", name, value);
  if (program === "nix" && g.printBuildLogs) out.push("--print-build-logs");
  return out;
}

/** `--impure` for an evaluating `nix` subcommand when asked for; placed after the subcommand. */
export function impureArgs(program: string, args: readonly string[], g: NixGlobals = current): string[] {
  return g.impure && program === "nix" && EVALUATING.has(args[0] ?? "") && !args.includes("--impure") ? ["--impure"] : [];
}
