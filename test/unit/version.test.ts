import { describe, expect, it } from "vitest";
import { atLeast, parseNixVersion, attrPathExpr } from "../../src/nix/index.js";

describe("Nix version detection", () => {
  it("reads Debian's and newer version strings", () => {
    expect(parseNixVersion("nix (Nix) 2.8.0\n")).toMatchObject({ major: 2, minor: 8, patch: 0 });
    expect(parseNixVersion("nix (Nix) 2.24.9")).toMatchObject({ major: 2, minor: 24, patch: 9 });
    expect(atLeast(parseNixVersion("nix (Nix) 2.8.0"), 2, 19)).toBe(false);
    expect(atLeast(parseNixVersion("nix (Nix) 2.19.1"), 2, 19)).toBe(true);
  });

  it("fails clearly on output it cannot read", () => {
    expect(() => parseNixVersion("command not found")).toThrow(/cannot read the Nix version/);
  });
});

describe("attribute paths", () => {
  it("quotes each name", () => {
    expect(attrPathExpr("nixosConfigurations.web-1.config")).toBe('."nixosConfigurations"."web-1"."config"');
    expect(() => attrPathExpr("")).toThrow();
  });
});
