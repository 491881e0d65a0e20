import type { HostReport } from "./events.js";

export interface RolloutOptions {
  parallel: number;
  /** Deploy this many hosts first; go on only when every one of them is done or unchanged. */
  canary: number;
  failFast: boolean;
}

const ok = (r: HostReport) => r.result === "done" || r.result === "unchanged";

/**
 * Runs `deploy` for each item, at most `parallel` at once, the canaries first. A failure
 * stops the rollout only with `failFast` (hosts already running finish) or when a canary
 * fails; the hosts never started are returned as skipped.
 */
export async function rollout<T>(
  items: readonly T[],
  o: RolloutOptions,
  deploy: (item: T) => Promise<HostReport>,
  skipped: (item: T, reason: string) => HostReport,
): Promise<{ reports: HostReport[]; stopped?: string }> {
  const reports = new Map<T, HostReport>();
  let stopped: string | undefined;
  const pool = async (batch: readonly T[]) => {
    let next = 0;
    const worker = async () => {
      for (;;) {
        if (stopped !== undefined) return;
        const i = next++;
        if (i >= batch.length) return;
        const item = batch[i] as T;
        const r = await deploy(item);
        reports.set(item, r);
        if (!ok(r) && o.failFast && stopped === undefined) stopped = `--fail-fast: ${r.host} ${r.result}`;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.parallel, batch.length)) }, worker));
  };
  const canaries = items.slice(0, o.canary);
  const rest = items.slice(o.canary);
  if (canaries.length > 0) {
    await pool(canaries);
    const bad = canaries.map((c) => reports.get(c)).filter((r): r is HostReport => r !== undefined && !ok(r));
    if (bad.length > 0 && stopped === undefined) stopped = `canary ${bad.map((r) => `${r.host} ${r.result}`).join(", ")}: rollout stopped`;
  }
  if (stopped === undefined) await pool(rest);
  const reason = stopped ?? "";
  return { reports: items.map((i) => reports.get(i) ?? skipped(i, reason)), stopped };
}
