import { describe, expect, it } from "vitest";
import { checkEventRepository, expectedRepository, githubRepositoryOf } from "../../../src/release/index.js";

describe("which repository an event is for", () => {
  it("reads owner/name from GitHub URLs only", () => {
    expect(githubRepositoryOf("https://github.com/example-org/fleet.git")).toBe("example-org/fleet");
    expect(githubRepositoryOf("https://github.com/example-org/fleet")).toBe("example-org/fleet");
    expect(githubRepositoryOf("https://x-access-token:abc@github.com/example-org/fleet")).toBe("example-org/fleet");
    expect(githubRepositoryOf("git@github.com:example-org/fleet.git")).toBe("example-org/fleet");
    expect(githubRepositoryOf("ssh://git@github.com/example-org/fleet.git")).toBe("example-org/fleet");
    expect(githubRepositoryOf("https://gitlab.com/example-org/fleet.git")).toBeUndefined();
    expect(githubRepositoryOf("/srv/git/fleet.git")).toBeUndefined();
    expect(githubRepositoryOf("https://github.com.evil.example/example-org/fleet")).toBeUndefined();
  });

  it("expects GITHUB_REPOSITORY first, else the remote's GitHub URL, else nothing", () => {
    expect(expectedRepository("example-org/fleet", "origin", "/srv/x.git")).toEqual({ name: "example-org/fleet", source: "GITHUB_REPOSITORY" });
    expect(expectedRepository(undefined, "origin", "git@github.com:a/b.git")).toEqual({ name: "a/b", source: "remote origin (git@github.com:a/b.git)" });
    expect(expectedRepository("", "origin", "/srv/x.git")).toBeUndefined();
  });

  it("refuses an event for another repository (exit 3), compares without case", () => {
    expect(() => checkEventRepository("Example-Org/Fleet", "example-org/fleet", { name: "example-org/fleet", source: "GITHUB_REPOSITORY" })).not.toThrow();
    expect(() => checkEventRepository("other/fleet", undefined, { name: "example-org/fleet", source: "GITHUB_REPOSITORY" })).toThrow(
      /^the event is for other\/fleet, but this is example-org\/fleet \(from GITHUB_REPOSITORY\)$/,
    );
    expect(() => checkEventRepository("a/b", "c/d", undefined)).toThrow(/based in c\/d/);
    try {
      checkEventRepository("other/fleet", undefined, { name: "x/y", source: "s" });
    } catch (e) {
      expect(e).toMatchObject({ code: "release-wrong-repository", exitCode: 3 });
    }
  });
});
