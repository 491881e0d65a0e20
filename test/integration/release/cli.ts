import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { run, type RunResult } from "../../../src/core/exec.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");

/**
 * Runs the oscd CLI from the sources (src/cli/main.ts through tsx) as its own process, so
 * exit codes, stdout and stderr are the real ones, without building dist/.
 */
export async function makeCli(dir: string): Promise<(args: string[], opts?: { cwd?: string; env?: Record<string, string | undefined> }) => Promise<RunResult>> {
  const script = join(dir, "oscd-cli.mjs");
  const main = pathToFileURL(join(ROOT, "src", "cli", "main.ts")).href;
  await writeFile(script, `const m = await import(${JSON.stringify(main)});\nawait m.main(["node", "oscd", ...process.argv.slice(2)]);\n`);
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return (args, opts = {}) => run("node", ["--import", tsx, script, ...args], { timeoutMs: 60_000, cwd: opts.cwd ?? dir, env: opts.env });
}
