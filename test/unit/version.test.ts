import { describe, expect, it } from "vitest";
import { atLeast, attrPathExpr, describeNix, features, parseNixVersion } from "../../src/nix/index.js";

describe("Nix version detection", () => {
  it("reads Debian's and newer version strings", () => {
    expect(parseNixVersion("nix (Nix) 2.8.0\n")).toMatchObject({ flavour: "nix", major: 2, minor: 8, patch: 0 });
    expect(parseNixVersion("nix (Nix) 2.24.9")).toMatchObject({ flavour: "nix", major: 2, minor: 24, patch: 9 });
    expect(atLeast(parseNixVersion("nix (Nix) 2.8.0"), 2, 19)).toBe(false);
    expect(atLeast(parseNixVersion("nix (Nix) 2.19.1"), 2, 19)).toBe(true);
  });

  it("reads pre-releases, Lix and Determinate Nix", () => {
    expect(parseNixVersion("nix (Nix) 2.26.0pre20241203_dirty")).toMatchObject({ flavour: "nix", text: "2.26.0", raw: "nix (Nix) 2.26.0pre20241203_dirty" });
    expect(parseNixVersion("nix (Lix, like Nix) 2.93.2")).toMatchObject({ flavour: "lix", text: "2.93.2" });
    expect(parseNixVersion("nix (Lix, like Nix) 2.94.0-dev-pre20250601-abcdef0")).toMatchObject({ flavour: "lix", text: "2.94.0" });
    // The Nix it builds on, not Determinate's own number.
    expect(parseNixVersion("nix (Determinate Nix 3.8.2) 2.30.1")).toMatchObject({ flavour: "determinate", text: "2.30.1" });
    expect(describeNix(parseNixVersion("nix (Lix, like Nix) 2.93.2"))).toBe("Lix 2.93.2");
  });

  it("fails clearly on output it cannot read", () => {
    expect(() => parseNixVersion("command not found")).toThrow(/cannot read the Nix version/);
    expect(() => parseNixVersion("")).toThrow(expect.objectContaining({ code: "nix-version-unknown" }));
  });
});

describe("what oscd asks of each Nix", () => {
  const f = (line: string) => features(parseNixVersion(line));
  it("path-info: an array before 2.19 and on Lix, an object from 2.19, with --json-format from 2.33", () => {
    expect(f("nix (Nix) 2.8.0").pathInfoJson).toBe("array");
    expect(f("nix (Nix) 2.18.9").pathInfoJson).toBe("array");
    expect(f("nix (Nix) 2.19.0").pathInfoJson).toBe("object");
    expect(f("nix (Nix) 2.32.4").pathInfoJson).toBe("object");
    expect(f("nix (Nix) 2.33.0").pathInfoJson).toBe("format-flag");
    expect(f("nix (Determinate Nix 3.15.0) 2.33.1").pathInfoJson).toBe("format-flag");
    // Lix 2.93 is not Nix 2.93: it kept 2.18's array.
    expect(f("nix (Lix, like Nix) 2.93.2").pathInfoJson).toBe("array");
  });

  it("renamed subcommands by release: config show, store info, flake update NAME", () => {
    expect(f("nix (Nix) 2.8.0")).toMatchObject({ configShow: ["show-config"], storeInfo: ["store", "ping"], flakeUpdateTakesInputs: false });
    expect(f("nix (Nix) 2.19.0")).toMatchObject({ configShow: ["show-config"], storeInfo: ["store", "info"], flakeUpdateTakesInputs: true });
    expect(f("nix (Nix) 2.20.0")).toMatchObject({ configShow: ["config", "show"], storeInfo: ["store", "info"] });
    expect(f("nix (Nix) 2.35.0")).toMatchObject({ configShow: ["config", "show"], storeInfo: ["store", "info"], flakeUpdateTakesInputs: true });
    expect(f("nix (Lix, like Nix) 2.90.0")).toMatchObject({ configShow: ["config", "show"], storeInfo: ["store", "ping"], flakeUpdateTakesInputs: true });
  });
});

describe("attribute paths", () => {
  it("quotes each name", () => {
    expect(attrPathExpr("nixosConfigurations.web-1.config")).toBe('."nixosConfigurations"."web-1"."config"');
    expect(() => attrPathExpr("")).toThrow();
  });
});
