import { run, type RunResult } from "../../src/core/exec.js";
import { GIT_ENV, OSCD_BIN } from "../../test/harness/index.js";

/**
 * How the demo speaks: a heading per step, one line per host event, a few notes. Nothing a
 * child process prints reaches the terminal unless a step fails (then it is shown once, with
 * the command that failed), so the story is never interleaved with logs.
 */
const out = (s: string) => process.stdout.write(s + "\n");
let stepNo = 0;

export function heading(text: string): void {
  out(`\n━━ ${++stepNo}. ${text}`);
}

export function note(text: string): void {
  out(`   ${text}`);
}

/** One event of one host (or of the server), aligned so the hosts read as columns. */
export function hostLine(who: string, text: string): void {
  out(`   ${who.padEnd(7)} │ ${text}`);
}

/** A step failed: its message is one line; `detail` is what the failing command printed. */
export class StepFailed extends Error {
  constructor(
    message: string,
    readonly detail = "",
  ) {
    super(message);
  }
}

/** Runs the built oscd CLI on this machine, output captured; a non-zero exit fails the step. */
export async function oscd(args: string[], opts: { cwd?: string; env?: Record<string, string>; okExit?: number[]; timeoutMs?: number } = {}): Promise<RunResult> {
  const r = await run(process.execPath, [OSCD_BIN, ...args], { cwd: opts.cwd, env: { ...GIT_ENV, ...opts.env }, timeoutMs: opts.timeoutMs ?? 300_000 });
  if (!(opts.okExit ?? [0]).includes(r.exitCode ?? -1)) throw new StepFailed(`oscd ${args[0] ?? ""} ${args[1] ?? ""} exited ${r.exitCode}`, r.stdout + r.stderr);
  return r;
}

/** Like `oscd`, for other commands (git). */
export async function must(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const r = await run(cmd, args, { cwd: opts.cwd, env: { ...GIT_ENV, ...opts.env }, timeoutMs: 120_000 });
  if (r.exitCode !== 0) throw new StepFailed(`${cmd} ${args.slice(0, 3).join(" ")} exited ${r.exitCode}`, r.stdout + r.stderr);
  return r;
}

/** Prints why the demo failed: the one-line reason, then the failing command's own output. */
export function reportFailure(e: unknown): void {
  const err = (s: string) => process.stderr.write(s + "\n");
  err(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}`);
  if (e instanceof StepFailed && e.detail.trim()) for (const l of e.detail.trim().split("\n").slice(-40)) err(`  | ${l}`);
}

/** Short form of a store path for the story: its name without the hash. */
export function shortPath(p: string | undefined): string {
  if (!p) return "(none)";
  return p.replace(/^\/nix\/store\/[0-9a-z]{32}-/, "");
}
