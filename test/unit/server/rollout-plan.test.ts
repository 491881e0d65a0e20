import { describe, expect, it } from "vitest";
import { parsePlan, parseRolloutSpec, planWaves, resolveSpec } from "../../../src/server/rollout-plan.js";

const hosts = ["a1", "a2", "a3", "a4", "db1", "db2", "web1", "web2"];
const tags = (h: string) => (h.startsWith("db") ? ["db"] : h.startsWith("web") ? ["web", "edge"] : []);

describe("planWaves", () => {
  it("puts the canary first, then waves by list, tag and cumulative percentage, then the rest, each host once", () => {
    const w = planWaves(hosts, tags, { canary: ["web2"], waves: [{ tag: "db" }, { percent: 75 }, { hosts: ["a1", "db1"] }] });
    expect(w).toEqual([
      { name: "canary", hosts: ["web2"] },
      { name: "wave 1 (@db)", hosts: ["db1", "db2"] },
      { name: "wave 2 (75%)", hosts: ["a1", "a2", "a3"] },
      { name: "rest", hosts: ["a4", "web1"] },
    ]);
    expect(w.flatMap((x) => x.hosts).sort()).toEqual([...hosts].sort());
  });

  it("ignores hosts the release does not name and refuses a canary it does not name", () => {
    expect(planWaves(hosts, tags, { waves: [{ hosts: ["ghost", "a1"] }] })[0]).toEqual({ name: "wave 1", hosts: ["a1"] });
    expect(() => planWaves(hosts, tags, { canary: ["ghost"] })).toThrow(/canary host\(s\) not in the release: ghost/);
    expect(planWaves(hosts, tags, {})).toEqual([{ name: "all", hosts }]);
  });

  it("refuses a spec with bad names, unknown keys or bad numbers", () => {
    expect(() => parseRolloutSpec({ channel: "main", sequence: 1, canary: ["../x"] })).toThrow(/not a host name/);
    expect(() => parseRolloutSpec({ channel: "main", sequence: 1, waves: [{ percent: 0 }] })).toThrow(/rollout is not valid/);
    expect(() => parseRolloutSpec({ channel: "main", sequence: 1, evil: true })).toThrow(/rollout is not valid/);
    expect(resolveSpec(parseRolloutSpec({ channel: "main", sequence: 1 }), undefined)).toEqual({ canary: undefined, waves: undefined, bakeSeconds: 300, waveTimeoutSeconds: 3600, maxFailures: 0 });
  });
});

describe("resolveSpec: a rollout's own settings, else the channel's plan, else the defaults", () => {
  const plan = { canary: ["web1"], waves: [{ tag: "web" }], bakeSeconds: 600, maxFailures: 1 };
  it("takes the plan's waves and budgets when the rollout names none", () => {
    expect(resolveSpec({}, plan)).toEqual({ canary: ["web1"], waves: [{ tag: "web" }], bakeSeconds: 600, waveTimeoutSeconds: 3600, maxFailures: 1 });
  });
  it("takes the rollout's waves as a whole (no canary from the plan slips in) and its own budgets field by field", () => {
    expect(resolveSpec({ waves: [{ percent: 50 }], bakeSeconds: 0 }, plan)).toEqual({ canary: undefined, waves: [{ percent: 50 }], bakeSeconds: 0, waveTimeoutSeconds: 3600, maxFailures: 1 });
    expect(resolveSpec({ canary: ["db1"] }, plan)).toMatchObject({ canary: ["db1"], waves: undefined });
  });
  it("a plan is checked like a rollout", () => {
    expect(() => parsePlan({ waves: [{ tag: "../x" }] })).toThrow(/not a tag/);
    expect(() => parsePlan({ channel: "main" })).toThrow(/the plan is not valid/);
    expect(parsePlan({ bakeSeconds: 60 })).toEqual({ bakeSeconds: 60 });
  });
});
