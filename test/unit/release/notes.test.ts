import { describe, expect, it } from "vitest";
import { commitMessage, tagMessage } from "../../../src/release/index.js";

const step = { level: "minor" as const, from: "1.2.3", version: "1.3.0" };
const pr = { number: 42, title: "web1: enable\n nginx status page", url: "https://github.com/example-org/fleet/pull/42", repository: "example-org/fleet" };

describe("release notes", () => {
  it("the tag message lists the merged pull request's number and title", () => {
    expect(tagMessage("v1.3.0", step, pr)).toBe(
      "Release v1.3.0\n\nminor release: 1.2.3 → 1.3.0\n\nPull requests:\n- #42 web1: enable nginx status page (https://github.com/example-org/fleet/pull/42)\n",
    );
    expect(tagMessage("v1.3.0", step, undefined)).toBe("Release v1.3.0\n\nminor release: 1.2.3 → 1.3.0\n");
  });

  it("the commit message carries trailers naming the release and the pull request", () => {
    const m = commitMessage("v1.3.0", step, pr);
    expect(m.split("\n")[0]).toBe("Release v1.3.0");
    expect(m).toMatch(/\n\nOscd-Release: v1\.3\.0\nOscd-Pull-Request: example-org\/fleet#42\n$/);
  });
});
