import { access } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunResult } from "../../src/core/exec.js";
import { must } from "./sh.js";
import type { SimHost } from "./simhost.js";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const OSCD_BIN = join(REPO_ROOT, "bin", "oscd.js");

let built: Promise<void> | undefined;

/**
 * Builds dist/ once per test process, so the CLI under test is the package users get.
 * scripts/test.sh builds before the tests and says so with OSCD_DIST_READY=1.
 */
export function ensureBuilt(): Promise<void> {
  built ??= (async () => {
    if (process.env.OSCD_DIST_READY !== "1") await must("npm", ["run", "-s", "build"], { timeoutMs: 300_000, env: { npm_config_loglevel: "error" } });
    await access(join(REPO_ROOT, "dist", "bundle", "main.mjs"));
  })();
  return built;
}

/** Runs the oscd CLI inside a simulated host. */
export async function oscdOn(host: SimHost, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  await ensureBuilt();
  return host.exec(["node", OSCD_BIN, ...args], { env: opts.env, timeoutMs: opts.timeoutMs ?? 300_000 });
}
