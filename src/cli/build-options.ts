import { InvalidArgumentError, type Command } from "commander";

export function positiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError("expected a positive whole number");
  return Number(v);
}

export function maxJobsArg(v: string): number | "auto" {
  if (v === "auto") return "auto";
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("expected a number or auto");
  return Number(v);
}

/** Flags every command that builds the fleet takes (oscd build, oscd publish). */
export interface BuildSourceFlags {
  repo?: string;
  ref?: string;
  on?: string;
  builders?: string;
  maxJobs?: number | "auto";
  stateDir?: string;
  rootsDir?: string;
  timeout?: number;
  json?: boolean;
}

export function addBuildSourceOptions(cmd: Command, onHelp: string): Command {
  return cmd
    .option("-C, --repo <path-or-url>", "the fleet repository (default: the current directory)")
    .option("--ref <ref>", "a tag, branch or commit (default: HEAD of the local checkout)")
    .option("--on <selection>", onHelp)
    .option("--builders <spec>", "Nix remote builders, passed to Nix's --builders (e.g. 'ssh://builder aarch64-linux')")
    .option("--max-jobs <n>", "parallel local builds (Nix's --max-jobs; a number or auto)", maxJobsArg)
    .option("--state-dir <dir>", "where oscd keeps its git mirror (default: ~/.cache/oscd)")
    .option("--roots-dir <dir>", "GC root directory for the results (default: /nix/var/nix/gcroots/oscd)")
    .option("--timeout <minutes>", "time limit of the build step (default: 240)", positiveInt)
    .option("--json", "print a JSON summary on stdout");
}

/** What these flags ask of the build stage (oscd publish, oscd image): source, builders, limits. */
export function buildSourceRequest(o: Omit<BuildSourceFlags, "on" | "json">): {
  repo?: string;
  ref?: string;
  builders?: string;
  maxJobs?: number | "auto";
  stateDir?: string;
  rootDir?: string;
  buildTimeoutMs?: number;
} {
  return { repo: o.repo, ref: o.ref, builders: o.builders, maxJobs: o.maxJobs, stateDir: o.stateDir, rootDir: o.rootsDir, buildTimeoutMs: o.timeout !== undefined ? o.timeout * 60_000 : undefined };
}
