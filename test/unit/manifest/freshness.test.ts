import { describe, expect, it } from "vitest";
import { GuardError } from "../../../src/core/errors.js";
import { generateSecretKey, publicKeyOf } from "../../../src/nix/index.js";
import { checkFreshness, parseManifest, readTrustedManifest, sameContent, serializeManifest, signManifest, type ManifestBody } from "../../../src/manifest/index.js";

const key = generateSecretKey("fleet-1");
const MIN = 60_000;
const created = "2026-03-01T12:00:00.000Z";
const expires = "2026-03-08T12:00:00.000Z";
const at = (iso: string) => new Date(iso);
const skew = { skewMs: 5 * MIN };

function body(over: Partial<ManifestBody> = {}): ManifestBody {
  return {
    schema: "oscd.manifest/v1",
    channel: "main",
    sequence: 7,
    version: "1.0.0",
    commit: "a".repeat(40),
    ref: "main",
    createdAt: created,
    expiresAt: expires,
    hosts: {},
    caches: [],
    ...over,
  };
}

function refusal(f: () => unknown): GuardError | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (e instanceof GuardError) return e;
    throw e;
  }
}

describe("manifest expiry", () => {
  it("is signed: expiresAt round-trips and an edited expiry fails verification", () => {
    const m = signManifest(body(), key);
    const text = serializeManifest(m);
    expect(text).toMatch(/"createdAt": "2026-03-01T12:00:00.000Z",\n {2}"expiresAt": "2026-03-08T12:00:00.000Z",/);
    expect(readTrustedManifest(text, [publicKeyOf(key)]).manifest.expiresAt).toBe(expires);
    const extended = text.replace(expires, "2099-01-01T00:00:00.000Z");
    expect(() => readTrustedManifest(extended, [publicKeyOf(key)])).toThrow(/does not match the content/);
    expect(() => parseManifest(text.replace(expires, "next week"))).toThrow(/expiresAt/);
    // A manifest from before expiry existed still parses (and verifies) as it was signed.
    const { expiresAt: _e, ...old } = body();
    expect(readTrustedManifest(serializeManifest(signManifest(old, key)), [publicKeyOf(key)]).manifest.expiresAt).toBeUndefined();
  });

  it("accepts a manifest before its expiry and says how long it has left", () => {
    expect(checkFreshness(body(), { now: at("2026-03-02T12:00:00.000Z"), ...skew })).toEqual({ expiresAt: at(expires), remainingMs: 6 * 24 * 60 * MIN });
    // Just past the expiry, within the tolerated skew.
    expect(checkFreshness(body(), { now: new Date(at(expires).getTime() + 4 * MIN), ...skew }).remainingMs).toBe(-4 * MIN);
  });

  it("refuses an expired manifest as a hold-back: a stopped CI or a freeze attack (exit 3)", () => {
    const e = refusal(() => checkFreshness(body(), { now: new Date(at(expires).getTime() + 5 * MIN), ...skew }));
    expect(e).toMatchObject({ code: "manifest-expired", exitCode: 3 });
    expect(e?.message).toBe(
      "channel main sequence 7 expired at 2026-03-08T12:00:00.000Z (now 2026-03-08T12:05:00.000Z): this machine is being held back (a stopped CI or a freeze attack), so the manifest is refused",
    );
    expect(e?.hint).toMatch(/oscd publish --refresh/);
    expect(refusal(() => checkFreshness(body(), { now: at("2030-01-01T00:00:00Z"), skewMs: 0 }))?.code).toBe("manifest-expired");
  });

  it("refuses a createdAt further in the future than the tolerated skew", () => {
    const now = new Date(at(created).getTime() - 6 * MIN);
    expect(refusal(() => checkFreshness(body(), { now, ...skew }))).toMatchObject({ code: "manifest-from-future", exitCode: 3 });
    expect(checkFreshness(body(), { now: new Date(at(created).getTime() - 4 * MIN), ...skew }).expiresAt).toEqual(at(expires));
    expect(refusal(() => checkFreshness(body(), { now: new Date(at(created).getTime() - 1), skewMs: 0 }))?.code).toBe("manifest-from-future");
  });

  it("refuses a manifest without expiry unless the caller opts out, and an expiry not after creation", () => {
    const { expiresAt: _e, ...old } = body();
    expect(refusal(() => checkFreshness(old, { now: at(created), ...skew }))).toMatchObject({ code: "manifest-no-expiry", exitCode: 3 });
    expect(checkFreshness(old, { now: at(created), ...skew, allowNoExpiry: true })).toEqual({});
    expect(refusal(() => checkFreshness(body({ expiresAt: created }), { now: at(created), ...skew }))?.code).toBe("manifest-expiry-invalid");
    expect(refusal(() => checkFreshness(body({ expiresAt: "2026-02-01T00:00:00Z" }), { now: at(created), ...skew }))?.code).toBe("manifest-expiry-invalid");
    expect(refusal(() => checkFreshness(body(), { now: new Date(Number.NaN), ...skew }))?.code).toBe("manifest-clock");
  });

  it("ignores the expiry when comparing content (a refresh says the same thing)", () => {
    expect(sameContent(body(), body({ sequence: 8, createdAt: "2026-03-05T00:00:00.000Z", expiresAt: "2026-03-12T00:00:00.000Z" }))).toBe(true);
  });
});
