import { describe, expect, it } from "vitest";
import { expiryFrom, needsRefresh, parseValidity } from "../../../src/publish/index.js";

const H = 3_600_000;

describe("--valid-for", () => {
  it("reads a whole number and a unit", () => {
    expect(parseValidity("7d")).toBe(168 * H);
    expect(parseValidity("12h")).toBe(12 * H);
    expect(parseValidity("90m")).toBe(1.5 * H);
    expect(parseValidity("2w")).toBe(336 * H);
    expect(parseValidity("3600s")).toBe(H);
    expect(parseValidity(" 1d ")).toBe(24 * H);
  });

  it("refuses anything else, too short or too long, with a usage error", () => {
    for (const bad of ["", "7", "d", "7 d", "1.5d", "-1d", "0d", "5m", "599s", "367d", "1y", "7D", "1e3d", "99999999d", "07d"]) {
      expect(() => parseValidity(bad), bad).toThrow(expect.objectContaining({ code: "bad-validity", exitCode: 2 }) as Error);
    }
  });

  it("sets expiresAt from now, and asks for a new sequence when less than half is left", () => {
    const now = new Date("2026-01-01T00:00:00.000Z");
    expect(expiryFrom(now, 24 * H)).toBe("2026-01-02T00:00:00.000Z");
    expect(needsRefresh({ expiresAt: "2026-01-01T13:00:00.000Z" }, now, 24 * H)).toBe(false);
    expect(needsRefresh({ expiresAt: "2026-01-01T11:00:00.000Z" }, now, 24 * H)).toBe(true);
    expect(needsRefresh({ expiresAt: "2025-12-31T00:00:00.000Z" }, now, 24 * H)).toBe(true);
    expect(needsRefresh({}, now, 24 * H)).toBe(true);
  });
});
