import { describe, expect, it } from "vitest";
import { deployExitCode, type HostReport, type HostResult } from "../../../src/deploy/events.js";
import { rollout } from "../../../src/deploy/rollout.js";

const report = (host: string, result: HostResult): HostReport => ({ host, result, old: {}, new: {}, timeMs: 0, warnings: [] });

async function simulate(results: Record<string, HostResult>, o: { parallel: number; canary: number; failFast: boolean }) {
  let running = 0;
  let peak = 0;
  const started: string[] = [];
  const r = await rollout(
    Object.keys(results),
    o,
    async (h) => {
      started.push(h);
      peak = Math.max(peak, ++running);
      await new Promise((res) => setTimeout(res, 5));
      running--;
      return report(h, results[h]!);
    },
    (h) => report(h, "skipped"),
  );
  return { ...r, started, peak };
}

describe("rollout", () => {
  it("runs at most --parallel hosts at once and all of them despite a failure", async () => {
    const r = await simulate({ a: "done", b: "failed", c: "done", d: "done", e: "done" }, { parallel: 2, canary: 0, failFast: false });
    expect(r.peak).toBe(2);
    expect(r.reports.map((x) => x.result)).toEqual(["done", "failed", "done", "done", "done"]);
    expect(r.stopped).toBeUndefined();
  });

  it("--fail-fast starts no host after a failure", async () => {
    const r = await simulate({ a: "failed", b: "done", c: "done" }, { parallel: 1, canary: 0, failFast: true });
    expect(r.started).toEqual(["a"]);
    expect(r.reports.map((x) => x.result)).toEqual(["failed", "skipped", "skipped"]);
    expect(r.stopped).toMatch(/fail-fast: a failed/);
  });

  it("--canary deploys the first N alone and stops unless each is done or unchanged", async () => {
    const bad = await simulate({ a: "done", b: "rolled-back", c: "done" }, { parallel: 10, canary: 2, failFast: false });
    expect(bad.started.sort()).toEqual(["a", "b"]);
    expect(bad.reports.map((x) => x.result)).toEqual(["done", "rolled-back", "skipped"]);
    expect(bad.stopped).toMatch(/canary b rolled-back/);
    const good = await simulate({ a: "unchanged", b: "done", c: "done" }, { parallel: 10, canary: 1, failFast: false });
    expect(good.started).toEqual(["a", "b", "c"]);
  });
});

describe("exit codes", () => {
  it("0 all done, 4 some rolled back, 1 some failed (a rollback is never 0)", () => {
    expect(deployExitCode({ hosts: [report("a", "done"), report("b", "unchanged")] })).toBe(0);
    expect(deployExitCode({ hosts: [report("a", "done"), report("b", "rolled-back")] })).toBe(4);
    expect(deployExitCode({ hosts: [report("a", "rolled-back"), report("b", "failed")] })).toBe(1);
    expect(deployExitCode({ hosts: [report("a", "done"), report("b", "skipped")] })).toBe(1);
  });
});
