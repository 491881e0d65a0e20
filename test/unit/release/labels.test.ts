import { describe, expect, it } from "vitest";
import { checkLabelConfig, levelsFromLabels, releaseLabelPrefix, skipLabel, type LabelConfig } from "../../../src/release/index.js";

const defaults: LabelConfig = { major: "release:major", minor: "release:minor", patch: "release:patch" };

describe("release labels", () => {
  it("maps each configured label to its level, in the RFC's order, and ignores other labels", () => {
    const d = levelsFromLabels(["release:patch", "bug", "release:major"], defaults);
    expect(d.levels).toEqual(["major", "patch"]);
    expect(d.ignored).toEqual(["bug"]);
    expect(d.skip).toBeUndefined();
    expect(levelsFromLabels([], defaults).levels).toEqual([]);
    expect(levelsFromLabels(["documentation", "dependencies"], defaults).levels).toEqual([]);
  });

  it("compares label names without case, as GitHub does", () => {
    expect(levelsFromLabels(["Release:Minor"], defaults).levels).toEqual(["minor"]);
  });

  it("derives the release prefix and the skip label from the configured names", () => {
    expect(releaseLabelPrefix(defaults)).toBe("release:");
    expect(skipLabel(defaults)).toBe("release:none");
    expect(releaseLabelPrefix({ major: "semver/major", minor: "semver/minor", patch: "semver/patch" })).toBe("semver/");
    expect(releaseLabelPrefix({ major: "breaking", minor: "feature", patch: "fix" })).toBeUndefined();
    expect(skipLabel({ major: "breaking", minor: "feature", patch: "fix" })).toBeUndefined();
  });

  it("names an unknown label with the release prefix (a typo) in the error", () => {
    expect(() => levelsFromLabels(["release:mayor"], defaults)).toThrow(/^unknown release label "release:mayor"$/);
    try {
      levelsFromLabels(["release:patch", "release:hotfix"], defaults);
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe("release-unknown-label");
      expect((e as { exitCode: number }).exitCode).toBe(2);
      expect((e as { hint: string }).hint).toMatch(/release:major, release:minor, release:patch, release:none/);
    }
  });

  it("release:none alone means no release; with a level label it is a conflict", () => {
    const d = levelsFromLabels(["release:none"], defaults);
    expect(d.levels).toEqual([]);
    expect(d.skip).toBe("release:none");
    expect(() => levelsFromLabels(["release:none", "release:major"], defaults)).toThrow(/^conflicting labels: "release:none" says no release, "release:major" asks for one$/);
  });

  it("works with custom label names that share no prefix (then unknown labels cannot be told apart)", () => {
    const custom = { major: "breaking", minor: "feature", patch: "fix" };
    expect(levelsFromLabels(["fix", "feature", "release:whatever"], custom).levels).toEqual(["minor", "patch"]);
  });

  it("refuses a configuration where two levels share a label", () => {
    expect(() => checkLabelConfig({ major: "release", minor: "Release", patch: "fix" })).toThrow(/release labels conflict: major and minor are both "Release"/);
    expect(() => checkLabelConfig({ major: "r:major", minor: "r:none", patch: "r:patch" })).toThrow(/minor and skip are both "r:none"/);
    expect(() => checkLabelConfig({ ...defaults, patch: " " })).toThrow(/release.labels.patch is empty/);
  });
});
