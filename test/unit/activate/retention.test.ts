import { describe, expect, it } from "vitest";
import { compactRange, planRetention } from "../../../src/activate/index.js";
import { retentionSchema } from "../../../src/fleet/index.js";
import type { Generation } from "../../../src/nix/index.js";

const DAY = 24 * 3600_000;
const NOW = new Date("2026-06-01T12:00:00Z");
const path = (n: number) => `/nix/store/${String(n).padStart(32, "a").replace(/[eotu]/g, "a")}-nixos-system-web1`;

/** Generations 1..n, one a day, the newest today; `current` is the profile's. */
function gens(n: number, current = n, same: Record<number, number> = {}): Generation[] {
  return Array.from({ length: n }, (_, i) => {
    const number = i + 1;
    return { number, storePath: path(same[number] ?? number), createdAt: new Date(NOW.getTime() - (n - number) * DAY), current: number === current, link: `/nix/var/nix/profiles/system-${number}-link` };
  });
}
const policy = (p: object) => retentionSchema.parse(p);
const kept = (plan: ReturnType<typeof planRetention>) => plan.filter((p) => p.keep.length > 0).map((p) => p.generation);

describe("planRetention", () => {
  it("keeps the newest N, protected generations counting toward N", () => {
    // Booted on generation 1 (never rebooted since), running and current 20, previous 19.
    const plan = planRetention(gens(20), policy({ keepGenerations: 5 }), { running: path(20), booted: path(1), now: NOW });
    expect(kept(plan)).toEqual([1, 17, 18, 19, 20]);
    expect(plan.find((p) => p.generation === 1)?.keep).toEqual(["booted"]);
    expect(plan.find((p) => p.generation === 20)?.keep).toEqual(["current", "running"]);
    expect(plan.find((p) => p.generation === 19)?.keep).toEqual(["previous"]);
    expect(plan.find((p) => p.generation === 18)?.keep).toEqual(["newest"]);
  });

  it("never removes a protected generation, even when there are more of them than N", () => {
    // After `boot`: current 10 is not running; running 6; booted 3; previous 9.
    const plan = planRetention(gens(10), policy({ keepGenerations: 1 }), { running: path(6), booted: path(3), now: NOW });
    expect(kept(plan)).toEqual([3, 6, 9, 10]);
  });

  it("previous-good skips generations of the same system as the current one", () => {
    // 8 and 9 are the same toplevel as 10 (activated again with --force): 7 is what a rollback goes to.
    const plan = planRetention(gens(10, 10, { 8: 10, 9: 10 }), policy({ keepGenerations: 1 }), { running: path(10), booted: path(10), now: NOW });
    expect(kept(plan)).toEqual([7, 10]);
  });

  it("keepDays keeps younger generations on top of keepGenerations (either rule keeps)", () => {
    const plan = planRetention(gens(30), policy({ keepGenerations: 3, keepDays: 7.5 }), { running: path(30), booted: path(30), now: NOW });
    // 23..30 are at most 7 days old; 28..30 are the newest three anyway.
    expect(kept(plan)).toEqual([23, 24, 25, 26, 27, 28, 29, 30]);
    expect(plan.find((p) => p.generation === 23)?.keep).toEqual(["recent"]);
  });

  it("keepDays alone keeps only the young and the protected", () => {
    const plan = planRetention(gens(10), policy({ keepDays: 2 }), { running: path(10), booted: path(2), now: NOW });
    expect(kept(plan)).toEqual([2, 8, 9, 10]);
  });

  it("without a rule keeps everything", () => {
    const plan = planRetention(gens(12), policy({}), { running: path(12), now: NOW });
    expect(kept(plan)).toHaveLength(12);
  });

  it("refuses nonsense policies", () => {
    expect(retentionSchema.safeParse({ keepGenerations: 0 }).success).toBe(false);
    expect(retentionSchema.safeParse({ keepGenerations: 2.5 }).success).toBe(false);
    expect(retentionSchema.safeParse({ keepDays: -1 }).success).toBe(false);
    expect(retentionSchema.safeParse({ keepGenerations: 3, keep: 4 }).success).toBe(false);
  });

  it("prints ranges compactly", () => {
    expect(compactRange([9, 3, 4, 5, 12, 13, 14, 7])).toBe("3-5, 7, 9, 12-14");
    expect(compactRange([])).toBe("");
  });
});
