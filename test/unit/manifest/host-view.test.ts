import { describe, expect, it } from "vitest";
import { checkManifest } from "../../../src/agent/guards.js";
import { hostViewBody, parseManifest, serializeManifest, signHostViews, signManifest, verifyManifest, viewHost, type ManifestBody } from "../../../src/manifest/index.js";
import { generateSecretKey, publicKeyOf } from "../../../src/nix/index.js";

const key = generateSecretKey("fleet-1");
const attacker = generateSecretKey("fleet-1");

function body(over: Partial<ManifestBody> = {}): ManifestBody {
  return {
    schema: "oscd.manifest/v1",
    channel: "main",
    sequence: 4,
    version: "1.2.0",
    commit: "a".repeat(40),
    ref: "v1.2.0",
    createdAt: "2025-01-02T03:04:05.000Z",
    expiresAt: "2099-01-02T03:04:05.000Z",
    hosts: {
      web1: { toplevel: "/nix/store/00000000000000000000000000000000-nixos-system-web1-1.2.0", system: "x86_64-linux" },
      web2: { toplevel: "/nix/store/22222222222222222222222222222222-nixos-system-web2-1.2.0", system: "x86_64-linux" },
      pi: { toplevel: "/nix/store/11111111111111111111111111111111-nixos-system-pi-1.2.0", system: "aarch64-linux" },
    },
    caches: ["file:///srv/cache"],
    ...over,
  };
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
    const ctx = { trusted: [publicKeyOf(key)], channel: "main", host: "web1", floor: 3, now: new Date("2025-06-01T00:00:00Z"), skewMs: 0 };
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
});
