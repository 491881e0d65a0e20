import { describe, expect, it } from "vitest";
import { isOscdError } from "../../../src/core/errors.js";
import { versionFilePath } from "../../../src/release/index.js";

describe("release.versionFile names (issue 9)", () => {
  it.each(["VER\u0000SION", "VERSION\n", "VER\u007fSION", "a\\..\\..\\x", "/abs", "a/../../x"])("refuses %j with a typed one-line error before git sees it", (name) => {
    const err = (() => {
      try {
        versionFilePath(name);
      } catch (e) {
        return e;
      }
    })();
    expect(isOscdError(err)).toBe(true);
    expect((err as { code: string }).code).toBe("release-bad-config");
    expect((err as Error).message).not.toMatch(/\n/);
    expect((err as Error).message.includes("\u0000")).toBe(false);
  });
});
