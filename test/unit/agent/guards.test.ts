import { describe, expect, it } from "vitest";
import { checkManifest, type ManifestGuardContext } from "../../../src/agent/guards.js";
import { serializeManifest, signManifest, type ManifestBody } from "../../../src/manifest/index.js";
import { formatPublicKey, generateSecretKey, publicKeyOf } from "../../../src/nix/index.js";
import { MachineTrust } from "../../../src/trust/index.js";

const key = generateSecretKey("fleet-1");
const other = generateSecretKey("intruder");
const TOP = "/nix/store/00000000000000000000000000000000-nixos-system-web1-1.0.0";
const body = (seq: number, extra: Partial<ManifestBody> = {}): ManifestBody => ({
  schema: "oscd.manifest/v1",
  channel: "main",
  sequence: seq,
  version: "1.0.0",
  commit: "a".repeat(40),
  ref: "main",
  createdAt: "2026-11-21T00:00:00Z",
  expiresAt: "2026-11-28T00:00:00Z",
  hosts: { web1: { toplevel: TOP, system: "x86_64-linux" } },
  caches: ["file:///cache"],
  ...extra,
});
const text = (seq: number, extra: Partial<ManifestBody> = {}, k = key) => serializeManifest(signManifest(body(seq, extra), k));
const ctx = (over: Partial<ManifestGuardContext> = {}): ManifestGuardContext => ({ trust: MachineTrust.of({ keys: [formatPublicKey(publicKeyOf(key))] }), channel: "main", host: "web1", floor: 0, now: new Date("2026-11-21T12:00:00Z"), skewMs: 300_000, ...over });

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect((e as { exitCode: number }).exitCode).toBe(3);
    return (e as { code: string }).code;
  }
  return "accepted";
}

describe("manifest guards", () => {
  it("accepts a newer signed manifest and returns this host's toplevel", () => {
    expect(checkManifest(text(2), "m", ctx({ floor: 1 }))).toMatchObject({ kind: "newer", toplevel: TOP, signer: "fleet-1" });
  });

  it.each([
    ["not JSON", () => checkManifest("<html>", "m", ctx()), "manifest-format"],
    ["truncated", () => checkManifest(text(1).slice(0, 80), "m", ctx()), "manifest-format"],
    ["unsigned", () => checkManifest(serializeManifest({ ...signManifest(body(1), key), signatures: [] }), "m", ctx()), "manifest-untrusted"],
    ["signed by an unknown key", () => checkManifest(text(1, {}, other), "m", ctx()), "manifest-untrusted"],
    ["edited after signing", () => checkManifest(text(1).replace("1.0.0", "6.6.6"), "m", ctx()), "manifest-untrusted"],
    ["with an unknown key", () => checkManifest(text(1).replace('"caches"', '"evil": 1, "caches"'), "m", ctx()), "manifest-format"],
    ["older than the last applied (replay)", () => checkManifest(text(3), "m", ctx({ floor: 4 })), "manifest-sequence"],
    ["the same sequence with other content (fork)", () => checkManifest(text(4, { commit: "b".repeat(40) }), "m", ctx({ floor: 4, accepted: { commit: "a".repeat(40) } })), "manifest-sequence"],
    ["for another channel", () => checkManifest(text(1, { channel: "beta" }), "m", ctx()), "manifest-channel"],
    ["that expired (a frozen mirror or a stopped CI)", () => checkManifest(text(2), "m", ctx({ floor: 1, now: new Date("2026-11-28T00:06:00Z") })), "manifest-expired"],
    ["without an expiry", () => checkManifest(text(2, { expiresAt: undefined }), "m", ctx({ floor: 1 })), "manifest-no-expiry"],
    ["without an entry for this host", () => checkManifest(text(1), "m", ctx({ host: "db1" })), "manifest-no-host"],
  ])("refuses a manifest %s", (_name, f, expected) => {
    expect(code(f)).toBe(expected);
  });

  it("tolerates the configured clock skew past expiry, and a manifest without expiry only when told to", () => {
    expect(checkManifest(text(2), "m", ctx({ floor: 1, now: new Date("2026-11-28T00:04:00Z") })).kind).toBe("newer");
    expect(checkManifest(text(2, { expiresAt: undefined }), "m", ctx({ floor: 1, allowNoExpiry: true })).kind).toBe("newer");
  });

  it("reads the same manifest again as 'same', not as a new deployment", () => {
    expect(checkManifest(text(4), "m", ctx({ floor: 4, accepted: { commit: "a".repeat(40), toplevel: TOP } })).kind).toBe("same");
  });
});
