import { run, type RunResult } from "../../src/core/exec.js";

/** Runs a harness command (argument array) and throws with its stderr when it fails. */
export async function must(file: string, args: readonly string[], opts: { timeoutMs?: number; input?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const r = await run(file, args, { timeoutMs: opts.timeoutMs ?? 60_000, input: opts.input, env: opts.env });
  if (r.exitCode !== 0) throw new Error(`harness: ${[file, ...args].join(" ")} exited ${r.exitCode}: ${r.stderr.trim().slice(-2000)}`);
  return r;
}

export async function attempt(file: string, args: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
  return run(file, args, { timeoutMs });
}
