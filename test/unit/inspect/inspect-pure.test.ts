import { describe, expect, it } from "vitest";
import { BadOptionPathError, editDistance, nearestNames, packageDiff, parseName, parseOptionPath } from "../../../src/inspect/index.js";

const p = (name: string) => `/nix/store/${"a".repeat(32)}-${name}`;

describe("store path names", () => {
  it("split into name and version as builtins.parseDrvName does", () => {
    expect(parseName("nginx-1.24.0")).toEqual({ name: "nginx", version: "1.24.0" });
    expect(parseName("nixos-system-web1-1.0.0")).toEqual({ name: "nixos-system-web1", version: "1.0.0" });
    expect(parseName("initrd-6.1.0-1")).toEqual({ name: "initrd", version: "6.1.0-1" });
    expect(parseName("etc")).toEqual({ name: "etc", version: "" });
    expect(parseName("python3.11-requests-2.31.0")).toEqual({ name: "python3.11-requests", version: "2.31.0" });
  });

  it("package diff: changed, added and removed by name", () => {
    const d = packageDiff([p("nginx-1.24.0"), p("linux-6.1.0"), p("old-tool-1")], [p("nginx-1.25.0"), p("linux-6.1.0"), p("new-tool-2")]);
    expect(d.changed).toEqual([{ name: "nginx", from: ["1.24.0"], to: ["1.25.0"] }]);
    expect(d.added).toEqual([{ name: "new-tool", versions: ["2"] }]);
    expect(d.removed).toEqual([{ name: "old-tool", versions: ["1"] }]);
  });
});

describe("option paths and suggestions", () => {
  it("parse dotted paths with quoted names", () => {
    expect(parseOptionPath("services.nginx.enable")).toEqual(["services", "nginx", "enable"]);
    expect(parseOptionPath('users.users."alice.b".uid')).toEqual(["users", "users", "alice.b", "uid"]);
    for (const bad of ["", "a..b", ".a", "a.", "a\nb", 'a."b']) expect(() => parseOptionPath(bad), bad).toThrow(BadOptionPathError);
  });

  it("nearest names by edit distance", () => {
    expect(editDistance("ngnix", "nginx")).toBe(2);
    expect(nearestNames("ngnix", ["nginx", "openssh", "postgresql"])).toEqual(["nginx"]);
    expect(nearestNames("enabel", ["enable", "package", "virtualHosts"])).toEqual(["enable"]);
    expect(nearestNames("zzzzzz", ["nginx", "openssh"])).toEqual([]);
  });
});
