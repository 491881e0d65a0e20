import { describe, expect, it } from "vitest";
import { lockHolder } from "../../../src/agent/switch-lock.js";

describe("switch-to-configuration lock holder", () => {
  it("finds the holder of an inode in /proc/locks and ignores waiters", () => {
    const locks = ["1: FLOCK  ADVISORY  WRITE 4242 00:1a:777 0 EOF", "1: -> FLOCK  ADVISORY  WRITE 5151 00:1a:777 0 EOF", "2: POSIX  ADVISORY  WRITE 99 08:01:123 0 EOF"].join("\n");
    expect(lockHolder(locks, 777)).toBe(4242);
    expect(lockHolder(locks, 123)).toBe(99);
    expect(lockHolder(locks, 5)).toBeUndefined();
  });
});
