import { run } from "../core/exec.js";
import type { HealthConfig } from "../fleet/index.js";
import { systemdRuns } from "./transient-unit.js";

export interface HealthResult {
  ok: boolean;
  attempts: number;
  failures: string[];
}

async function checkOnce(cfg: HealthConfig): Promise<string[]> {
  const failures: string[] = [];
  const timeoutMs = cfg.timeoutSeconds * 1000;
  if (cfg.systemdUnits && (await systemdRuns())) {
    const r = await run("systemctl", ["list-units", "--state=failed", "--no-legend", "--plain"], { timeoutMs }).catch((e: unknown) => ({ exitCode: -1, stdout: "", stderr: String(e) }));
    const units = r.stdout.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
    if (units.length > 0) failures.push(`failed units: ${units.join(", ")}`);
  }
  for (const argv of cfg.commands) {
    const [file, ...args] = argv as [string, ...string[]];
    try {
      const r = await run(file, args, { timeoutMs });
      if (r.exitCode !== 0) failures.push(`command ${argv.join(" ")} exited ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().split("\n").pop()}` : ""}`);
    } catch (e) {
      failures.push(`command ${argv.join(" ")}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  for (const probe of cfg.http) {
    try {
      const res = await fetch(probe.url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
      const body = probe.contains !== undefined ? await res.text() : "";
      if (res.status !== probe.status) failures.push(`GET ${probe.url} answered ${res.status}, expected ${probe.status}`);
      else if (probe.contains !== undefined && !body.includes(probe.contains)) failures.push(`GET ${probe.url} does not contain ${JSON.stringify(probe.contains)}`);
    } catch (e) {
      failures.push(`GET ${probe.url}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return failures;
}

/** Runs every check; retries the whole set until all pass or the retries are used up. */
export async function checkHealth(cfg: HealthConfig, onAttempt?: (attempt: number, failures: string[]) => void): Promise<HealthResult> {
  let failures: string[] = [];
  const attempts = cfg.retries + 1;
  for (let i = 1; i <= attempts; i++) {
    failures = await checkOnce(cfg);
    onAttempt?.(i, failures);
    if (failures.length === 0) return { ok: true, attempts: i, failures };
    if (i < attempts) await new Promise((r) => setTimeout(r, cfg.retryDelaySeconds * 1000));
  }
  return { ok: false, attempts, failures };
}
