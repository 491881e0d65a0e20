import { describe, expect, it } from "vitest";
import { parseRolloutSpec, planWaves } from "../../../src/server/rollout-plan.js";

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
    expect(parseRolloutSpec({ channel: "main", sequence: 1 })).toMatchObject({ bakeSeconds: 300, maxFailures: 0 });
  });
});
