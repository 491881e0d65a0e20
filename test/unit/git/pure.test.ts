import { describe, expect, it } from "vitest";
import {
  classifyRemoteFailure,
  compareReleaseTags,
  describeSignatureStatus,
  parsePushPorcelain,
  parseReleaseTag,
} from "../../../src/git/index.js";
import { mainLine } from "../../../src/git/errors.js";
import { checkArg, gitEnv } from "../../../src/git/run.js";

describe("parseReleaseTag", () => {
  it("accepts exactly <prefix>semver, prereleases and build metadata included", () => {
    expect(parseReleaseTag("v1.2.3", "v")?.version).toBe("1.2.3");
    expect(parseReleaseTag("v2.0.0-rc.1", "v")?.prerelease).toEqual(["rc", 1]);
    expect(parseReleaseTag("v1.0.0+build.5", "v")?.build).toEqual(["build", "5"]);
    expect(parseReleaseTag("release-1.0.0", "release-")?.version).toBe("1.0.0");
    expect(parseReleaseTag("1.0.0", "")?.version).toBe("1.0.0");
  });

  it("rejects loose or other forms", () => {
    for (const name of ["v1.2", "vv1.2.3", "v=1.2.3", "v 1.2.3", "v1.2.3.4", "v01.2.3", "1.2.3", "v1.2.3 ", "V1.2.3", "release"]) {
      expect(parseReleaseTag(name, "v"), name).toBeUndefined();
    }
    expect(parseReleaseTag("v1.2.3", "")).toBeUndefined();
  });
});

describe("compareReleaseTags", () => {
  it("orders by semantic version, not by text", () => {
    const names = ["v1.10.0", "v2.0.0-rc.1", "v1.2.0", "v2.0.0", "v1.0.0", "v2.0.0-beta.2", "v2.0.0-beta.10"];
    const sorted = names
      .map((name) => ({ name, version: parseReleaseTag(name, "v")?.raw ?? "" }))
      .sort(compareReleaseTags)
      .map((t) => t.name);
    expect(sorted).toEqual(["v1.0.0", "v1.2.0", "v1.10.0", "v2.0.0-beta.2", "v2.0.0-beta.10", "v2.0.0-rc.1", "v2.0.0"]);
  });
});

describe("classifyRemoteFailure", () => {
  it("recognises unreachable remotes and missing refs", () => {
    expect(classifyRemoteFailure("fatal: '/x' does not appear to be a git repository\nfatal: Could not read from remote repository.\n")).toEqual({
      kind: "unreachable",
    });
    expect(classifyRemoteFailure("fatal: unable to access 'https://h/r.git/': Could not resolve host: h\n").kind).toBe("unreachable");
    expect(classifyRemoteFailure("ssh: connect to host h port 22: Connection refused\n").kind).toBe("unreachable");
    expect(classifyRemoteFailure("fatal: couldn't find remote ref refs/heads/x\n")).toEqual({ kind: "unknown-ref", ref: "refs/heads/x" });
    expect(classifyRemoteFailure("error: some other failure\n").kind).toBe("other");
  });
});

describe("parsePushPorcelain", () => {
  it("reads each ref's status", () => {
    const out = [
      "To /srv/origin.git",
      "*\trefs/tags/v1.0.0:refs/tags/v1.0.0\t[new tag]",
      " \trefs/heads/dev:refs/heads/dev\tabc1234..def5678",
      "!\trefs/heads/main:refs/heads/main\t[rejected] (non-fast-forward)",
      "=\trefs/heads/x:refs/heads/x\t[up to date]",
      "Done",
    ].join("\n");
    expect(parsePushPorcelain(out)).toEqual([
      { ref: "refs/tags/v1.0.0:refs/tags/v1.0.0", status: "new", summary: "[new tag]" },
      { ref: "refs/heads/dev:refs/heads/dev", status: "fast-forward", summary: "abc1234..def5678" },
      { ref: "refs/heads/main:refs/heads/main", status: "rejected", summary: "[rejected] (non-fast-forward)" },
      { ref: "refs/heads/x:refs/heads/x", status: "up-to-date", summary: "[up to date]" },
    ]);
  });
});

describe("describeSignatureStatus", () => {
  it("explains each verdict", () => {
    expect(describeSignatureStatus("N")).toContain("not signed");
    expect(describeSignatureStatus("E")).toContain("cannot be checked");
    expect(describeSignatureStatus("U")).toContain("not trusted");
    expect(describeSignatureStatus("R")).toContain("revoked");
    expect(describeSignatureStatus("?")).toContain("could not be verified");
  });
});

describe("mainLine", () => {
  it("prefers the first fatal or error line over trailing advice", () => {
    expect(mainLine("fatal: 'x' does not appear to be a git repository\nfatal: Could not read\n\nPlease make sure\nand the repository exists.\n")).toBe(
      "'x' does not appear to be a git repository",
    );
    expect(mainLine("hint: a\nsomething odd\n")).toBe("something odd");
    expect(mainLine("")).toBe("");
  });
});

describe("gitEnv", () => {
  it("isolates reads from user config, never prompts, and lets the caller add variables", () => {
    const read = gitEnv({ kind: "read", env: { GIT_SSH_COMMAND: "ssh -i key" } });
    expect(read).toMatchObject({
      GIT_TERMINAL_PROMPT: "0",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_CONFIG_NOSYSTEM: "1",
      LC_ALL: "C",
      GIT_SSH_COMMAND: "ssh -i key",
    });
    expect("GIT_DIR" in read && read.GIT_DIR === undefined).toBe(true);
    const net = gitEnv({ kind: "network" });
    expect(net.GIT_TERMINAL_PROMPT).toBe("0");
    expect(net.GIT_CONFIG_GLOBAL).toBeUndefined();
    expect(gitEnv({ kind: "network", globalConfig: false }).GIT_CONFIG_GLOBAL).toBe("/dev/null");
  });
});

describe("checkArg", () => {
  it("refuses option-like and empty values", () => {
    expect(checkArg("origin", "remote")).toBe("origin");
    expect(() => checkArg("--upload-pack=evil", "remote")).toThrow(/invalid remote/);
    expect(() => checkArg("", "ref")).toThrow();
  });
});
