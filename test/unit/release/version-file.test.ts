import { describe, expect, it } from "vitest";
import { canonicalVersion, formatVersionFile, parseVersionFile, versionFilePath } from "../../../src/release/index.js";

describe("version file", () => {
  it("reads one semantic version and remembers the line ending", () => {
    expect(parseVersionFile("1.2.3\n", "VERSION")).toEqual({ version: "1.2.3", eol: "\n" });
    expect(parseVersionFile("1.2.3", "VERSION")).toEqual({ version: "1.2.3", eol: "" });
    expect(parseVersionFile("1.2.3\r\n", "VERSION")).toEqual({ version: "1.2.3", eol: "\r\n" });
    expect(parseVersionFile("2.0.0-rc.1+build.5\n", "VERSION").version).toBe("2.0.0-rc.1+build.5");
    expect(formatVersionFile("2.0.0", "\r\n")).toBe("2.0.0\r\n");
  });

  it.each([
    ["garbage\n"],
    [""],
    ["\n"],
    ["v1.2.3\n"],
    ["1.2\n"],
    ["1.2.3.4\n"],
    [" 1.2.3\n"],
    ["1.2.3 \n"],
    ["1.2.3\n\n"],
    ["1.2.3\nsecond line\n"],
    ["=1.2.3"],
    ["01.2.3"],
  ])("refuses %j with a one-line error naming the file and the content", (text) => {
    expect(() => parseVersionFile(text, "VERSION at 1a2b3c")).toThrow(/^VERSION at 1a2b3c is not a semantic version: ".*"$/);
  });

  it("canonicalVersion accepts only the canonical form", () => {
    expect(canonicalVersion("1.2.3")).toBe("1.2.3");
    expect(canonicalVersion("v1.2.3")).toBeUndefined();
  });

  it("keeps the version file inside the repository", () => {
    expect(versionFilePath("VERSION")).toBe("VERSION");
    expect(versionFilePath("./release/VERSION")).toBe("release/VERSION");
    for (const bad of ["", "/etc/VERSION", "../VERSION", "a/../../VERSION", ".git/VERSION", "dir/"]) {
      expect(() => versionFilePath(bad), bad).toThrow(/is not a file inside the repository/);
    }
  });
});
