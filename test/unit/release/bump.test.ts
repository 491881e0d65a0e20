import { describe, expect, it } from "vitest";
import { orderLevels, parseLevel, parseStrategy, planBump, ReleaseInputError, type Level } from "../../../src/release/index.js";

const versions = (current: string, levels: Level[], strategy: "sequential" | "highest" = "sequential") => planBump(current, levels, strategy).map((s) => s.version);

describe("bump rules", () => {
  it("major x.y.z → x+1.0.0, minor → x.y+1.0, patch → x.y.z+1", () => {
    expect(versions("1.2.3", ["major"])).toEqual(["2.0.0"]);
    expect(versions("1.2.3", ["minor"])).toEqual(["1.3.0"]);
    expect(versions("1.2.3", ["patch"])).toEqual(["1.2.4"]);
    expect(versions("0.9.9", ["minor"])).toEqual(["0.10.0"]);
    expect(versions("9.99.99", ["patch"])).toEqual(["9.99.100"]);
  });

  it("applies several levels major → minor → patch, each visible, whatever order they are given in", () => {
    expect(versions("1.2.3", ["patch", "major"])).toEqual(["2.0.0", "2.0.1"]);
    expect(versions("1.2.3", ["patch", "minor", "major"])).toEqual(["2.0.0", "2.1.0", "2.1.1"]);
    expect(versions("1.2.3", ["patch", "minor"])).toEqual(["1.3.0", "1.3.1"]);
    expect(versions("1.2.3", ["minor", "major"])).toEqual(["2.0.0", "2.1.0"]);
    const steps = planBump("1.2.3", ["patch", "major"], "sequential");
    expect(steps).toEqual([
      { level: "major", from: "1.2.3", version: "2.0.0" },
      { level: "patch", from: "2.0.0", version: "2.0.1" },
    ]);
  });

  it("highest applies only the highest level", () => {
    expect(versions("1.2.3", ["patch", "major"], "highest")).toEqual(["2.0.0"]);
    expect(versions("1.2.3", ["patch", "minor"], "highest")).toEqual(["1.3.0"]);
    expect(versions("1.2.3", ["patch"], "highest")).toEqual(["1.2.4"]);
  });

  it("removes duplicate levels", () => {
    expect(orderLevels(["patch", "patch", "major", "patch"], "sequential")).toEqual(["major", "patch"]);
    expect(versions("1.2.3", ["patch", "patch"])).toEqual(["1.2.4"]);
  });

  it("leaves prerelease arithmetic to semver", () => {
    expect(versions("2.0.0-rc.1", ["patch"])).toEqual(["2.0.0"]);
    expect(versions("2.0.0-rc.1", ["major"])).toEqual(["2.0.0"]);
  });

  it("refuses unknown levels and strategies with a typed usage error", () => {
    expect(() => parseLevel("mayor")).toThrow(ReleaseInputError);
    expect(() => parseLevel("mayor")).toThrow(/unknown release level "mayor"/);
    expect(() => parseStrategy("lowest")).toThrow(/unknown strategy "lowest"/);
    try {
      parseLevel("Major");
    } catch (e) {
      expect((e as ReleaseInputError).code).toBe("release-bad-level");
      expect((e as ReleaseInputError).exitCode).toBe(2);
    }
  });
});
