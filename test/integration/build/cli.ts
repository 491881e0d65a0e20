import { join } from "node:path";
import { run, type RunResult } from "../../../src/core/exec.js";

const root = join(import.meta.dirname, "..", "..", "..");
const tsx = import.meta.resolve("tsx");
const entry = `const m = await import(${JSON.stringify(join(root, "src/cli/main.ts"))}); await m.main(["node", "oscd", ...process.argv.slice(1)]);`;

/**
 * Runs the oscd CLI from the sources (through tsx), as a separate process with its own exit
 * code, stdout and stderr; the test's NIX_CONFIG is inherited.
 */
export async function oscd(args: readonly string[], opts: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<RunResult> {
  return run("node", ["--import", tsx, "--input-type=module", "-e", entry, "--", ...args], {
    timeoutMs: opts.timeoutMs ?? 180_000,
    cwd: opts.cwd ?? root,
    env: opts.env,
  });
}

export function json<T>(r: RunResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.exitCode}): ${r.stdout}\n${r.stderr}`);
  }
}
