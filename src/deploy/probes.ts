import { OscdError } from "../core/errors.js";

/** An HTTP check the deployer makes itself after a host switched (morph-style). */
export interface DeployerProbe {
  /** `{host}` and `{address}` are replaced by the host's fleet name and SSH address. */
  url: string;
  status: number;
}

export interface ProbeSettings {
  attempts: number;
  delayMs: number;
  timeoutMs: number;
}

export function probeUrl(p: DeployerProbe, host: string, address: string): string {
  return p.url.replaceAll("{host}", host).replaceAll("{address}", address.includes(":") ? `[${address}]` : address);
}

/** `URL` or `STATUS=URL`, e.g. `204=http://{address}/healthz`. */
export function parseProbe(text: string): DeployerProbe {
  const m = /^(?:([1-5][0-9]{2})=)?(https?:\/\/\S+)$/.exec(text);
  if (!m) throw new OscdError("bad-probe", `--probe ${JSON.stringify(text.slice(0, 80))} is not [STATUS=]http(s)://…`, { hint: "e.g. --probe 'http://{address}:8080/healthz'", exitCode: 2 });
  return { url: m[2] as string, status: m[1] ? Number(m[1]) : 200 };
}

/**
 * Runs every probe, the whole set retried until it passes or the attempts are used up.
 * Returns the failures of the last attempt (empty: healthy).
 */
export async function runProbes(probes: readonly DeployerProbe[], host: string, address: string, s: ProbeSettings, onAttempt?: (n: number, failures: string[]) => void): Promise<string[]> {
  let failures: string[] = [];
  for (let n = 1; n <= s.attempts; n++) {
    failures = [];
    for (const p of probes) {
      const url = probeUrl(p, host, address);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(s.timeoutMs), redirect: "manual" });
        await res.body?.cancel();
        if (res.status !== p.status) failures.push(`GET ${url} answered ${res.status}, expected ${p.status}`);
      } catch (e) {
        failures.push(`GET ${url}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    onAttempt?.(n, failures);
    if (failures.length === 0 || n === s.attempts) return failures;
    await new Promise((r) => setTimeout(r, s.delayMs));
  }
  return failures;
}
