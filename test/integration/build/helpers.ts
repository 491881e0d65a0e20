import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { run, type RunResult } from "../../../src/core/exec.js";
import type { FleetRepo } from "../../harness/index.js";

const root = join(import.meta.dirname, "..", "..", "..");
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
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

/** Makes a host's toplevel a derivation whose builder fails (a flake fleet), and commits. */
export async function breakBuild(repo: FleetRepo, host: string): Promise<string> {
  const flake = await readFile(join(repo.dir, "flake.nix"), "utf8");
  const broken = `builtins.derivation { name = "nixos-system-${host}-broken"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo ${host} fails on purpose >&2; exit 1" ]; }`;
  const next = flake.replace(`toplevel = mk "${host}";`, `toplevel = ${broken};`);
  if (next === flake) throw new Error(`no host ${host} in flake.nix`);
  return repo.commitFile("flake.nix", next, `${host}: break the build`);
}
