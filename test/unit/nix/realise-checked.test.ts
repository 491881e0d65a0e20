import { describe, expect, it } from "vitest";
import { signatureAlreadyChecked } from "../../../src/nix/index.js";

const A = "cache-a:AAAA";
const B = "cache-b:BBBB";
const CACHE = "file:///srv/cache";

/**
 * The realise skips its own reading of the toplevel's signature only when the caller's reading
 * answers the same question: a trusted signature in one of the caches the realise substitutes
 * from, checked against exactly the keys it trusts. Anything else is read again.
 */
describe("signatureAlreadyChecked", () => {
  it("holds for a cache of the realise and the same keys, in any order", () => {
    expect(signatureAlreadyChecked({ cache: CACHE, keys: [B, A] }, [CACHE], [A, B])).toBe(true);
  });

  it("does not hold without a check, or for a cache the realise does not use", () => {
    expect(signatureAlreadyChecked(undefined, [CACHE], [A])).toBe(false);
    expect(signatureAlreadyChecked({ cache: "file:///elsewhere", keys: [A] }, [CACHE], [A])).toBe(false);
  });

  it("does not hold when the check trusted other keys (one more, one fewer, or another)", () => {
    expect(signatureAlreadyChecked({ cache: CACHE, keys: [A, B] }, [CACHE], [A])).toBe(false);
    expect(signatureAlreadyChecked({ cache: CACHE, keys: [A] }, [CACHE], [A, B])).toBe(false);
    expect(signatureAlreadyChecked({ cache: CACHE, keys: [B] }, [CACHE], [A])).toBe(false);
    expect(signatureAlreadyChecked({ cache: CACHE, keys: [A, A] }, [CACHE], [A, B])).toBe(false);
  });
});
