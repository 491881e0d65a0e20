import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../../src/manifest/index.js";
import { parseRevocations, parseTrustRoot, serializeTrustRoot, signingBytes, signTrustRoot, verifySelfSigned, initTrust, rotateTrust, nextRevocations, signRevocations, serializeRevocations } from "../../../src/trust/index.js";
import { codeOf, firstRoot, keys, pub, pubText, T0, TOP } from "./helpers.js";

const [r1, r2, r3] = keys("root", 3) as [ReturnType<typeof keys>[0], ReturnType<typeof keys>[0], ReturnType<typeof keys>[0]];
const [k1] = keys("release", 1) as [ReturnType<typeof keys>[0]];

describe("the trust root document", () => {
  it("round-trips through its file form and signs its canonical JSON without signatures", () => {
    const t = firstRoot([r1, r2], [k1], [r1, r2], { rootThreshold: 2 });
    const back = parseTrustRoot(serializeTrustRoot(t));
    expect(back).toEqual(t);
    expect(signingBytes(back)).toBe(canonicalJson({ ...t, signatures: undefined }));
    expect(verifySelfSigned(back).counted.map((k) => k.name).sort()).toEqual(["root-1", "root-2"]);
    expect(t).toMatchObject({ schema: "oscd.trust/v1", version: 1, root: { threshold: 2 }, channels: { "*": { threshold: 1 } }, cacheKeys: [pubText(k1)] });
  });

  it.each([
    ["an unknown field", (s: string) => s.replace('"version": 1,', '"version": 1, "extra": true,'), /unknown key\(s\) extra/],
    ["a key twice in one object", (s: string) => s.replace('"version": 1,', '"version": 1, "version": 2,'), /not JSON/],
    ["a threshold no keys can meet", (s: string) => s.replace('"threshold": 1', '"threshold": 3'), /can never be met/],
    ["a key listed twice", (s: string) => s.replace(/("keys": \[\n\s*\{\n\s*"key": )("[^"]+")/, '$1$2\n      },\n      {\n        "key": $2'), /listed twice/],
    ["a key that is not a Nix public key", (s: string) => s.replace(/"key": "root-1:[^"]+"/, '"key": "root-1:AAAA"'), /not a Nix public key/],
    ["a channel name with a dot", (s: string) => s.replace('"*": {', '"ma.in": {'), /a channel name/],
    ["no expiry", (s: string) => s.replace(/\s*"expiresAt": "[^"]+",/, ""), /expiresAt/],
  ])("refuses %s, naming it, as trust-format (exit 3)", (_what, edit, message) => {
    const good = serializeTrustRoot(firstRoot([r1], [k1], [r1]));
    const bad = edit(good);
    expect(bad).not.toBe(good);
    let err: { code?: string; message?: string; exitCode?: number } = {};
    try {
      parseTrustRoot(bad, "t.json");
    } catch (e) {
      err = e as typeof err;
    }
    expect(err).toMatchObject({ code: "trust-format", exitCode: 3 });
    expect(err.message).toMatch(message);
    expect(err.message).not.toMatch(/\n/);
  });

  it("refuses a file larger than any trust root before parsing it (endless data)", () => {
    expect(codeOf(() => parseTrustRoot(" ".repeat(1024 * 1024 + 1) + "{}"))).toBe("trust-format");
  });

  it("is not signed by its own root threshold when too few root keys signed", () => {
    const t = firstRoot([r1, r2, r3], [k1], [r1], { rootThreshold: 2 });
    expect(codeOf(() => verifySelfSigned(t))).toBe("trust-threshold");
    expect(codeOf(() => verifySelfSigned(signTrustRoot(t, [r3])))).toBe("accepted");
  });

  it("counts each key once: the same signature twice is one approval", () => {
    const t = firstRoot([r1, r2], [k1], [r1], { rootThreshold: 2 });
    const doubled = { ...t, signatures: [t.signatures[0] as string, t.signatures[0] as string] };
    expect(codeOf(() => verifySelfSigned(doubled))).toBe("trust-threshold");
  });

  it("rotate makes the next version, and removing a release key starts a sequence epoch", () => {
    const t = firstRoot([r1], [k1], [r1]);
    const [k2] = keys("release-b", 1);
    const next = rotateTrust(t, { addReleaseKeys: [pub(k2 as never)], removeReleaseKeys: ["release-1"], now: new Date(T0.getTime() + 1000) });
    expect(next.version).toBe(2);
    expect(next.channels["*"]?.keys.map((k) => k.key)).toEqual([pubText(k2 as never)]);
    expect(next.channels["*"]?.sequenceEpoch).toBe(new Date(T0.getTime() + 1000).toISOString());
    const added = rotateTrust(t, { addReleaseKeys: [pub(k2 as never)], now: T0 });
    expect(added.channels["*"]?.sequenceEpoch).toBeUndefined();
    expect(codeOf(() => rotateTrust(t, { removeReleaseKeys: ["release-1"], now: T0 }))).toBe("trust-usage");
    expect(codeOf(() => rotateTrust(t, { rejectBefore: [{ name: "nobody", time: T0.toISOString() }], now: T0 }))).toBe("trust-usage");
    expect(rotateTrust(t, { rejectBefore: [{ name: "release-1", time: "2026-05-01T00:00:00Z" }], now: T0 }).channels["*"]?.keys[0]?.rejectBefore).toBe("2026-05-01T00:00:00.000Z");
  });

  it("init refuses thresholds that cannot be met and empty roles", () => {
    expect(codeOf(() => initTrust({ rootKeys: [pub(r1)], rootThreshold: 2, releaseKeys: [pub(k1)], now: T0 }))).toBe("trust-usage");
    expect(codeOf(() => initTrust({ rootKeys: [], releaseKeys: [pub(k1)], now: T0 }))).toBe("trust-usage");
  });
});

describe("the revocation list document", () => {
  it("names exactly one of sequence, commit or toplevel per entry, and grows one version at a time", () => {
    const l1 = signRevocations(nextRevocations(undefined, { channel: "main", sequences: [7], toplevels: [TOP], reason: "CVE", now: T0 }), [k1]);
    expect(l1).toMatchObject({ version: 1, revoked: [{ sequence: 7, reason: "CVE" }, { toplevel: TOP, reason: "CVE" }] });
    const l2 = nextRevocations(l1, { channel: "main", sequences: [7, 8], reason: "again", now: T0 });
    expect(l2.version).toBe(2);
    expect(l2.revoked.map((r) => r.sequence ?? r.toplevel)).toEqual([7, TOP, 8]);
    const bad = serializeRevocations(l1).replace('"sequence": 7,', '"sequence": 7, "toplevel": "' + TOP + '",');
    expect(codeOf(() => parseRevocations(bad))).toBe("trust-format");
    expect(codeOf(() => nextRevocations(l1, { channel: "other", reason: "", now: T0 }))).toBe("trust-usage");
  });
});
