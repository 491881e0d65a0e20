import { describe, expect, it } from "vitest";
import { InvalidStorePathError, isStorePath, parseStorePath } from "../../src/nix/index.js";

const GOOD = "/nix/store/j38vc32xay8x7g9kckv2ww002cy13s8z-nixos-system-web1-1.0.0";

describe("store paths", () => {
  it("parses hash and name", () => {
    expect(parseStorePath(GOOD)).toEqual({ path: GOOD, hash: "j38vc32xay8x7g9kckv2ww002cy13s8z", name: "nixos-system-web1-1.0.0" });
  });

  it.each([
    ["", "empty"],
    ["/tmp/j38vc32xay8x7g9kckv2ww002cy13s8z-x", "not under /nix/store"],
    ["/nix/store/j38vc32xay8x7g9kckv2ww002cy13s8-x", "hash part"],
    ["/nix/store/e38vc32xay8x7g9kckv2ww002cy13s8z-x", "base-32"],
    ["/nix/store/j38vc32xay8x7g9kckv2ww002cy13s8z-bad name", "name part"],
    [`${GOOD}/bin/switch-to-configuration`, "inside a store path"],
    ["/nix/store/j38vc32xay8x7g9kckv2ww002cy13s8z-.hidden", "name part"],
  ])("rejects %j naming the reason (%s)", (value, reason) => {
    expect(() => parseStorePath(value)).toThrow(InvalidStorePathError);
    expect(() => parseStorePath(value)).toThrow(reason);
    expect(isStorePath(value)).toBe(false);
  });

  it("gives a typed error with a stable code and exit 2", () => {
    try {
      parseStorePath("/etc/passwd");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidStorePathError);
      expect((e as InvalidStorePathError).code).toBe("invalid-store-path");
      expect((e as InvalidStorePathError).exitCode).toBe(2);
    }
  });
});
