import { describe, expect, it } from "vitest";
import { inWindow, nextOpening, planDeployment, planReboot } from "../../../src/agent/schedule.js";

/** Local time, as the agent reads windows. */
const at = (y: number, mo: number, d: number, h: number, mi: number) => new Date(y, mo - 1, d, h, mi);

describe("maintenance windows", () => {
  it("handles plain, midnight-wrapping and day-limited windows", () => {
    expect(inWindow({ lower: "01:00", upper: "05:00" }, at(2026, 11, 21, 3, 0))).toBe(true);
    expect(inWindow({ lower: "01:00", upper: "05:00" }, at(2026, 11, 21, 5, 0))).toBe(false);
    expect(inWindow({ lower: "22:00", upper: "02:00" }, at(2026, 11, 21, 23, 30))).toBe(true);
    expect(inWindow({ lower: "22:00", upper: "02:00" }, at(2026, 11, 21, 1, 59))).toBe(true);
    expect(inWindow({ lower: "22:00", upper: "02:00" }, at(2026, 11, 21, 12, 0))).toBe(false);
    // 2026-11-21 is a Saturday; the window that opened Saturday 22:00 still holds Sunday 01:00.
    expect(inWindow({ lower: "22:00", upper: "02:00", days: ["sat"] }, at(2026, 11, 22, 1, 0))).toBe(true);
    expect(inWindow({ lower: "22:00", upper: "02:00", days: ["sun"] }, at(2026, 11, 22, 1, 0))).toBe(false);
  });

  it("waits outside the window until it opens, or installs for the next boot when told to", () => {
    const cfg = { switchWindows: [{ lower: "02:00", upper: "04:00" }], outsideWindow: "wait" as const };
    const noon = at(2026, 11, 21, 12, 0);
    const wait = planDeployment("switch", cfg, noon);
    expect(wait).toMatchObject({ action: "wait" });
    expect(wait.action === "wait" && wait.until?.getTime()).toBe(at(2026, 11, 22, 2, 0).getTime());
    expect(planDeployment("switch", { ...cfg, outsideWindow: "boot" }, noon)).toMatchObject({ action: "deploy", mode: "boot" });
    expect(planDeployment("test", { ...cfg, outsideWindow: "boot" }, noon)).toMatchObject({ action: "wait" });
    expect(planDeployment("switch", cfg, at(2026, 11, 22, 3, 0))).toEqual({ action: "deploy", mode: "switch" });
    expect(planDeployment("switch", { switchWindows: [], outsideWindow: "wait" }, noon)).toEqual({ action: "deploy", mode: "switch" });
    expect(nextOpening([], noon)).toBe(noon);
  });

  it("plans a reboot inside the reboot window with a randomized delay, never when the policy says never", () => {
    const noon = at(2026, 11, 21, 12, 0);
    expect(planReboot({ policy: "never", randomizedDelaySec: 0 }, noon)).toBeUndefined();
    const when = planReboot({ policy: "when-needed", rebootWindow: { lower: "03:00", upper: "04:00" }, randomizedDelaySec: 600 }, noon, () => 0.5);
    expect(when?.getTime()).toBe(at(2026, 11, 22, 3, 0).getTime() + 300_000);
  });
});
