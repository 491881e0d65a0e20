import { describe, expect, it } from "vitest";
import { checkManifest, type ManifestGuardContext } from "../../../src/agent/guards.js";
import { hostViewBody, parseManifest, serializeManifest, signHostViews, signManifest, verifyManifest, viewHost, type ManifestBody } from "../../../src/manifest/index.js";
import { formatPublicKey, generateSecretKey, publicKeyOf } from "../../../src/nix/index.js";
import { initTrust, MachineTrust, signTrustRoot } from "../../../src/trust/index.js";
import { manifestBody, PI_TOPLEVEL, WEB1_TOPLEVEL } from "../../harness/manifest-body.js";

const key = generateSecretKey("fleet-1");
const attacker = generateSecretKey("fleet-1");

function body(over: Partial<ManifestBody> = {}): ManifestBody {
  return manifestBody({
    expiresAt: "2099-01-02T03:04:05.000Z",
    hosts: {
      web1: { toplevel: WEB1_TOPLEVEL, system: "x86_64-linux" },
      web2: { toplevel: "/nix/store/22222222222222222222222222222222-nixos-system-web2-1.2.0", system: "x86_64-linux" },
      pi: { toplevel: PI_TOPLEVEL, system: "aarch64-linux" },
    },
    ...over,
  });
}

describe("host views", () => {
  const release = signManifest(body(), key);

  it("a view is the release cut down to one host, signed on its own, and an agent accepts it as the release", () => {
    const views = signHostViews(release, key);
    expect(views.map((v) => Object.keys(v.hosts))).toEqual([["pi"], ["web1"], ["web2"]]);
    for (const v of views) {
      const text = serializeManifest(v);
      expect(verifyManifest(parseManifest(text), [publicKeyOf(key)]).name).toBe("fleet-1");
      expect(viewHost(v, release)).toBe(Object.keys(v.hosts)[0]);
    }
    const web1 = serializeManifest(views[1]!);
    const ctx: ManifestGuardContext = { trust: MachineTrust.of({ keys: [formatPublicKey(publicKeyOf(key))] }), channel: "main", host: "web1", floor: 3, now: new Date("2025-06-01T00:00:00Z"), skewMs: 0 };
    expect(checkManifest(web1, "view", ctx)).toMatchObject({ kind: "newer", toplevel: release.hosts.web1!.toplevel });
    // Having applied the view, the whole manifest of the same sequence is the same release, and vice versa.
    const after = { ...ctx, floor: 4, accepted: { commit: release.commit, toplevel: release.hosts.web1!.toplevel } };
    expect(checkManifest(serializeManifest(release), "release", after).kind).toBe("same");
    // Another host's view names no entry for this one: refused, nothing applied.
    expect(() => checkManifest(serializeManifest(views[2]!), "view", ctx)).toThrow(/no entry for host web1/);
    expect(() => hostViewBody(release, "toString")).toThrow(/not in the manifest/);
  });

  it("anything but the exact cut is not a view of the release: another entry, other fields, two hosts, another release", () => {
    const cut = hostViewBody(release, "web1");
    expect(viewHost(cut, release)).toBe("web1");
    const forged: [string, ManifestBody][] = [
      ["another host's system under this name", { ...cut, hosts: { web1: release.hosts.web2! } }],
      ["a later expiry", { ...cut, expiresAt: "2199-01-01T00:00:00.000Z" }],
      ["another sequence", { ...cut, sequence: 5 }],
      ["other caches", { ...cut, caches: ["https://evil.example"] }],
      ["two hosts", { ...cut, hosts: { web1: release.hosts.web1!, web2: release.hosts.web2! } }],
      ["no host", { ...cut, hosts: {} }],
      ["a host not in the release", { ...cut, hosts: { db1: release.hosts.web1! } }],
      ["an entry with images added", { ...cut, hosts: { web1: { ...release.hosts.web1!, images: {} } } }],
    ];
    for (const [what, v] of forged) expect([what, viewHost(v, release)]).toEqual([what, undefined]);
    // Signed by a key of the same name that is not the fleet's: the cut is right, the signature is not.
    const wrongKey = signManifest(cut, attacker);
    expect(viewHost(wrongKey, release)).toBe("web1");
    expect(() => verifyManifest(wrongKey, [publicKeyOf(key)])).toThrow(/does not match the content/);
  });

  // The agent checks a view with the very code that checks a manifest (checkManifest): each
  // attack below is refused with the code a forged manifest gets, before anything changes.
  describe("an agent served a view it must not act on", () => {
    const trust = MachineTrust.of({ keys: [formatPublicKey(publicKeyOf(key))] });
    const ctx = (over: Partial<ManifestGuardContext> = {}): ManifestGuardContext => ({ trust, channel: "main", host: "web1", floor: 3, now: new Date("2025-06-01T00:00:00Z"), skewMs: 0, ...over });
    const codeOf = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as { code?: string }).code ?? String(e);
      }
      return "accepted";
    };
    const viewOf = (b: ManifestBody, host: string, signer = key) => serializeManifest(signManifest(hostViewBody(b, host), signer));

    it("accepts its own view of a newer release", () => {
      expect(codeOf(() => checkManifest(viewOf(body(), "web1"), "view", ctx()))).toBe("accepted");
    });

    it("refuses another host's view (no entry for this host)", () => {
      expect(codeOf(() => checkManifest(viewOf(body(), "web2"), "view", ctx()))).toBe("manifest-no-host");
    });

    it("refuses a view from an older sequence (a replay of a release it moved past)", () => {
      expect(codeOf(() => checkManifest(viewOf(body({ sequence: 2 }), "web1"), "view", ctx()))).toBe("manifest-sequence");
      // The same sequence with other content (a view of a forked release) is refused too.
      const other = body({ hosts: { web1: { toplevel: "/nix/store/99999999999999999999999999999999-nixos-system-web1-evil", system: "x86_64-linux" } } });
      expect(codeOf(() => checkManifest(viewOf(other, "web1"), "view", ctx({ floor: 4, accepted: { commit: release.commit, toplevel: release.hosts.web1!.toplevel } })))).toBe("manifest-sequence");
    });

    it("refuses a view whose signature does not verify: another key of the same name, or content edited after signing", () => {
      expect(codeOf(() => checkManifest(viewOf(body(), "web1", attacker), "view", ctx()))).toBe("manifest-untrusted");
      const signed = signManifest(hostViewBody(release, "web1"), key);
      const edited = { ...signed, hosts: { web1: { ...signed.hosts.web1!, toplevel: "/nix/store/99999999999999999999999999999999-nixos-system-web1-evil" } } };
      expect(codeOf(() => checkManifest(serializeManifest(edited), "view", ctx()))).toBe("manifest-untrusted");
      const unsigned = { ...signed, signatures: [] };
      expect(codeOf(() => checkManifest(JSON.stringify(unsigned), "view", ctx()))).not.toBe("accepted");
    });

    it("refuses an expired view, and a view of another channel", () => {
      expect(codeOf(() => checkManifest(viewOf(body({ expiresAt: "2025-05-01T00:00:00.000Z" }), "web1"), "view", ctx()))).toBe("manifest-expired");
      expect(codeOf(() => checkManifest(viewOf(body({ channel: "beta" }), "web1"), "view", ctx()))).toBe("manifest-channel");
    });

    it("with a trust root needing two release signatures, a view signed by one key is refused like a manifest signed by one", () => {
      const rel1 = generateSecretKey("release-1");
      const rel2 = generateSecretKey("release-2");
      const root = generateSecretKey("root-1");
      const t = MachineTrust.of(
        signTrustRoot(initTrust({ rootKeys: [publicKeyOf(root)], releaseKeys: [publicKeyOf(rel1), publicKeyOf(rel2)], releaseThreshold: 2, now: new Date("2025-01-01T00:00:00Z"), validForMs: 10 * 365 * 86_400_000 }), [root]),
      );
      const c = ctx({ trust: t });
      const whole = signManifest(body(), [rel1, rel2]);
      expect(codeOf(() => checkManifest(serializeManifest(signManifest(body(), [rel1])), "manifest", c))).toBe("manifest-threshold");
      expect(codeOf(() => checkManifest(serializeManifest(signHostViews(signManifest(body(), [rel1]), [rel1])[1]!), "view", c))).toBe("manifest-threshold");
      expect(codeOf(() => checkManifest(serializeManifest(whole), "manifest", c))).toBe("accepted");
      expect(codeOf(() => checkManifest(serializeManifest(signHostViews(whole, [rel1, rel2])[1]!), "view", c))).toBe("accepted");
    });
  });
});
