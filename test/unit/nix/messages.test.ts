import { describe, expect, it } from "vitest";
import {
  connectionLost,
  corruptSubstitute,
  lastErrorLine,
  overrideMatchesNoInput,
  pathUnavailable,
  platformMismatch,
  storeUnreachable,
  storeUnsupported,
  untrustedSubstitute,
} from "../../../src/nix/index.js";
import * as F from "./fixtures/stderr.js";

/** Every meaning against every release's wording, and no meaning read into another's words. */
const MEANINGS: [string, (s: string) => unknown, F.StderrCase[]][] = [
  ["an unsigned substitute", untrustedSubstitute, F.UNTRUSTED],
  ["a corrupt substitute", corruptSubstitute, F.CORRUPT],
  ["an unavailable path", pathUnavailable, F.UNAVAILABLE],
  ["a connection lost mid-copy", connectionLost, F.CONNECTION_LOST],
  ["an unreachable store", storeUnreachable, F.UNREACHABLE],
  ["an unsupported store type", storeUnsupported, F.UNSUPPORTED],
  ["an override naming no input", overrideMatchesNoInput, F.OVERRIDE_UNMATCHED],
];

describe("Nix's refusals recognised by meaning on every release", () => {
  for (const [meaning, recognise, cases] of MEANINGS) {
    for (const c of cases) {
      it(`${meaning}: ${c.releases}`, () => {
        expect(recognise(c.stderr)).toBeTruthy();
      });
    }
  }

  it("an unsigned substitute is not read into a corrupt, lost or unreachable one, nor the reverse", () => {
    for (const c of [...F.CORRUPT, ...F.CONNECTION_LOST, ...F.UNREACHABLE, ...F.UNAVAILABLE]) expect(untrustedSubstitute(c.stderr), c.stderr).toBeUndefined();
    for (const c of F.UNTRUSTED) {
      expect(corruptSubstitute(c.stderr)).toBeUndefined();
      expect(connectionLost(c.stderr)).toBeUndefined();
    }
  });

  it("a connection lost mid-copy is not a store that could not be reached", () => {
    for (const c of F.CONNECTION_LOST) expect(storeUnreachable(c.stderr), c.stderr).toBeUndefined();
  });

  for (const c of F.PLATFORM) {
    it(`a platform mismatch: ${c.releases}`, () => {
      expect(platformMismatch(c.stderr)).toMatchObject({ required: c.required, current: c.current });
      expect(platformMismatch(c.stderr)?.line).not.toContain(String.fromCharCode(27));
    });
  }

  it("an ordinary build failure is no platform mismatch", () => {
    for (const c of F.BUILD_FAILED) expect(platformMismatch(c.stderr)).toBeUndefined();
  });
});

describe("lastErrorLine on every release's build failure", () => {
  for (const c of F.BUILD_FAILED) {
    it(`names the builder's failure, not the summary after it: ${c.releases}`, () => {
      expect(lastErrorLine(c.stderr)).toBe(c.line);
    });
  }

  it("joins 2.30's reason to its head for a platform mismatch", () => {
    expect(lastErrorLine(F.PLATFORM[2]!.stderr)).toMatch(/^error: Cannot build '.*\.drv'\. Reason: platform mismatch Required system: 'aarch64-linux' Current system: 'x86_64-linux'$/);
  });
});
