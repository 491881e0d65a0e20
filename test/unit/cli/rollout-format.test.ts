import { describe, expect, it } from "vitest";
import { changeLines, rolloutBlock } from "../../../src/cli/rollout-format.js";
import type { RolloutView } from "../../../src/server-client/index.js";

/** How a rollout of a large fleet prints: the live block is capped per wave, wave lines are short. */
const NOW = 1_700_000_000_000;
const hosts = Array.from({ length: 30 }, (_, i) => `h${String(i + 1).padStart(2, "0")}`);
const view: RolloutView = {
  id: "0123456789abcdef",
  channel: "main",
  sequence: 2,
  state: "running",
  max_failures: 5,
  bake_ms: 60_000,
  wave_timeout_ms: 0,
  current_wave: 0,
  reason: null,
  created_at: NOW - 10_000,
  updated_at: NOW,
  version: "1.0.2",
  waves: [
    {
      idx: 0,
      name: "rest",
      state: "active",
      hosts,
      healthy: hosts.slice(0, 10),
      failed: ["h29", "h30"],
      pending: hosts.slice(10, 28),
      startedAt: NOW - 10_000,
      healthyAt: null,
      finishedAt: null,
      bakeEndsAt: null,
      progress: hosts.map((host, i) =>
        i < 10 ? { host, state: "ok", at: NOW - 5000, reason: null } : i >= 28 ? { host, state: "failed", at: NOW - 4000, reason: "switch failed" } : { host, state: "deploying", at: NOW - 9000, reason: null },
      ),
    },
  ],
};
const hostRows = (text: string) => text.split("\n").filter((l) => /^ {5}h\d\d /.test(l));

describe("rollout format at fleet scale", () => {
  it("`rollout status` prints every host; the live block at most N a wave, failed first, the rest counted", () => {
    expect(hostRows(rolloutBlock(view, NOW))).toHaveLength(30);
    const live = rolloutBlock(view, NOW, 20);
    const rows = hostRows(live);
    expect(rows).toHaveLength(20);
    expect(rows.slice(0, 2).map((l) => l.trim().split(/\s+/).slice(0, 2))).toEqual([
      ["h29", "failed"],
      ["h30", "failed"],
    ]);
    expect(live).toContain("and 10 more (10 deploying): `oscd rollout status 01234567` lists every host");
  });

  it("a wave's line names its hosts shortened", () => {
    const line = changeLines()(view).find((l) => l.startsWith("wave 1"));
    expect(line).toBe("wave 1 rest (30 hosts: h01, h02, h03, h04, h05, h06, …, h30): active");
  });
});
