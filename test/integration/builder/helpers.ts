import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { run, type RunResult } from "../../../src/core/exec.js";
import { ensureBuilt, OSCD_BIN, REPO_ROOT, type FleetRepo } from "../../harness/index.js";

/**
 * Runs the oscd CLI as users get it (the built package, `bin/oscd.js`), as a separate process
 * with its own exit code, stdout and stderr; the test's NIX_CONFIG is inherited.
 */
export async function oscd(args: readonly string[], opts: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<RunResult> {
  await ensureBuilt();
  return run("node", [OSCD_BIN, ...args], { timeoutMs: opts.timeoutMs ?? 180_000, cwd: opts.cwd ?? REPO_ROOT, env: opts.env });
}

/** The argv that runs the built oscd, e.g. inside a SimHost (`host.exec(await oscdArgv([...]))`). */
export async function oscdArgv(args: readonly string[]): Promise<string[]> {
  await ensureBuilt();
  return ["node", OSCD_BIN, ...args];
}

export function json<T>(r: RunResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.exitCode}): ${r.stderr.replace(/\n/g, " | ")} :: ${r.stdout}`);
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
