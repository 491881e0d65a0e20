import { describe, expect, it } from "vitest";
import { channelRolloutSchema, HOST_NAME, parseFleetFile, planOf } from "../../src/fleet/index.js";
import { HOST_NAME as MANIFEST_HOST_NAME, MAX_NAME_LENGTH } from "../../src/manifest/index.js";
import { formatDuration, formatWaves, parseDuration, parseWaves, PLAN_NAME, PLAN_NAME_MAX } from "../../src/plan/index.js";

describe("rollout waves as text (--waves, oscd.toml, the dashboard's form)", () => {
  it("reads canary, tags, percentages, host lists and rest, and writes them back the same", () => {
    const p = parseWaves("canary=web1,web2; @web; 50%; db1, db2 ; rest");
    expect(p).toEqual({ canary: ["web1", "web2"], waves: [{ tag: "web" }, { percent: 50 }, { hosts: ["db1", "db2"] }] });
    expect(formatWaves(p)).toBe("canary=web1,web2; @web; 50%; db1,db2; rest");
    expect(parseWaves(formatWaves(p))).toEqual(p);
    expect(parseWaves("all")).toEqual({ waves: [] });
    expect(parseWaves("")).toEqual({ waves: [] });
    expect(formatWaves({ waves: [] })).toBe("all");
  });

  it("names in plans follow the manifest's host-name rule (src/plan keeps its own copy, to load nothing)", () => {
    expect(PLAN_NAME.source).toBe(HOST_NAME.source);
    expect([PLAN_NAME.source, PLAN_NAME_MAX]).toEqual([MANIFEST_HOST_NAME.source, MAX_NAME_LENGTH]);
  });

  it("refuses what it cannot mean, naming the part", () => {
    expect(() => parseWaves("@web; canary=web1")).toThrow(/"canary=web1": the canary comes first/);
    expect(() => parseWaves("rest; @web")).toThrow(/comes last/);
    expect(() => parseWaves("canary=web1; all")).toThrow(/plan of its own/);
    expect(() => parseWaves("150%")).toThrow(/at most 100/);
    expect(() => parseWaves("0%")).toThrow(/more than 0/);
    expect(() => parseWaves("@../x")).toThrow(/not a tag/);
    expect(() => parseWaves("web1,$(reboot)")).toThrow(/not a host name/);
    expect(() => parseWaves("canary=")).toThrow(/at least one host/);
  });

  it("reads durations as seconds, within a bound", () => {
    expect(parseDuration("90s", "--bake")).toBe(90);
    expect(parseDuration("10m", "--bake")).toBe(600);
    expect(parseDuration("1h30m", "--bake")).toBe(5400);
    expect(parseDuration("45", "--bake")).toBe(45);
    expect(() => parseDuration("10 minutes", "--bake")).toThrow(/--bake "10 minutes" is not a duration/);
    expect(() => parseDuration("8d", "--bake", 7 * 86_400)).toThrow(/longer than 7 days/);
    expect(formatDuration(5400)).toBe("1h30m");
    expect(formatDuration(0)).toBe("0s");
  });

  it("[channels.main.rollout] in oscd.toml becomes a plan; a bad one is a fleet-config error naming the key", () => {
    const fleet = parseFleetFile('[channels.main]\nbranch = "main"\n[channels.main.rollout]\nwaves = "canary=web1; @web; rest"\nbake = "10m"\nmaxFailures = 1\n', "oscd.toml");
    const r = fleet.channels.main?.rollout;
    expect(r).toBeDefined();
    expect(planOf(r!)).toEqual({ canary: ["web1"], waves: [{ tag: "web" }], bakeSeconds: 600, maxFailures: 1, waveTimeoutSeconds: 3600 });
    expect(planOf(channelRolloutSchema.parse({}))).toEqual({ waves: [], bakeSeconds: 300, maxFailures: 0, waveTimeoutSeconds: 3600 });
    expect(() => parseFleetFile('[channels.main]\nbranch = "main"\n[channels.main.rollout]\nwaves = "@web; canary=web1"\n', "oscd.toml")).toThrow(/channels\.main\.rollout\.waves.*canary comes first/);
    expect(() => parseFleetFile('[channels.main]\nbranch = "main"\n[channels.main.rollout]\nbake = "soon"\n', "oscd.toml")).toThrow(/rollout\.bake/);
  });
});
