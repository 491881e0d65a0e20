import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostViewBody, parseManifest, RELEASE_WITH_VIEWS, serializeManifest, signHostViews, signManifest, type Manifest } from "../../../src/manifest/index.js";
import { FLEET_KEY, OTHER_KEY, signedManifest, startTestServer, type TestServer } from "../../harness/control-server.js";

/**
 * Host views on the server (src/manifest/host-view.ts): uploaded with their release, each
 * checked as an agent checks a manifest and against the release; any one that is not exactly
 * the release cut down to one of its hosts, signed by a trusted key, refuses the whole upload
 * and nothing is stored. A host is then served its own view, a host without one the whole
 * manifest. (What an agent does with a view a server should not have served is in
 * test/unit/manifest/host-view.test.ts: it checks it as any manifest and refuses it.)
 */
const HOSTS = ["web1", "web2", "db1"];
let s: TestServer;

beforeAll(async () => {
  s = await startTestServer("sqlite");
});
afterAll(async () => {
  await s?.close();
});

function upload(m: Manifest, views: readonly string[], immediate = true) {
  return s.api("POST", `/api/v1/releases${immediate ? "?immediate=1" : ""}`, { token: s.admin, raw: JSON.stringify({ manifest: serializeManifest(m), views }), headers: { "content-type": RELEASE_WITH_VIEWS } });
}

async function releases(): Promise<number[]> {
  return ((await s.api("GET", "/api/v1/releases?channel=main", { token: s.admin })).json as { releases: { sequence: number }[] }).releases.map((r) => Number(r.sequence));
}

describe("host views uploaded with a release", () => {
  it("refuses the whole upload for any view that is not the release cut down to one host, signed by a trusted key; nothing is stored", async () => {
    const release = signedManifest("main", 1, HOSTS);
    const good = signHostViews(release, FLEET_KEY).map(serializeManifest);
    const other = signedManifest("main", 2, HOSTS);
    const attacks: [string, string, string][] = [
      ["a view of another sequence", serializeManifest(signHostViews(other, FLEET_KEY)[0] as Manifest), "bad-host-view"],
      ["a view whose entry is another host's system", serializeManifest(signManifest({ ...hostViewBody(release, "web1"), hosts: { web1: release.hosts.web2! } }, FLEET_KEY)), "bad-host-view"],
      ["a view of a host the release does not name", serializeManifest(signManifest({ ...hostViewBody(release, "web1"), hosts: { evil: release.hosts.web1! } }, FLEET_KEY)), "bad-host-view"],
      ["a view with a later expiry", serializeManifest(signManifest({ ...hostViewBody(release, "web1"), expiresAt: "2199-01-01T00:00:00.000Z" }, FLEET_KEY)), "bad-host-view"],
      ["a view signed by an untrusted key", serializeManifest(signManifest(hostViewBody(release, "web1"), OTHER_KEY)), "manifest-untrusted"],
      ["a view edited after signing", good[0]!.replace(release.hosts[HOSTS.slice().sort()[0]!]!.toplevel, "/nix/store/99999999999999999999999999999999-nixos-system-evil"), "manifest-untrusted"],
      ["two views of one host", good[1]!, "bad-host-view"],
    ];
    for (const [what, view, code] of attacks) {
      const r = await upload(release, [...good, view]);
      expect([what, r.status, (r.json as { error?: { code?: string } }).error?.code]).toEqual([what, 422, code]);
    }
    expect(await releases()).toEqual([]);
  });

  it("serves each host its own view, and a host without one the whole manifest", async () => {
    const release = signedManifest("main", 1, HOSTS);
    // No view for db1 (publish signs one per host; a server must cope with fewer).
    const views = signHostViews(release, FLEET_KEY).filter((v) => !Object.hasOwn(v.hosts, "db1"));
    const r = await upload(release, views.map(serializeManifest));
    expect([r.status, (r.json as { views: number }).views]).toEqual([201, 2]);
    for (const host of ["web1", "web2"]) {
      const got = await s.api("GET", "/api/v1/channels/main/manifest", { token: await s.hostToken(host) });
      expect(got.status).toBe(200);
      expect(Object.keys(parseManifest(got.text).hosts)).toEqual([host]);
      expect(got.text).toBe(serializeManifest(views.find((v) => Object.hasOwn(v.hosts, host)) as Manifest));
    }
    const db1 = await s.api("GET", "/api/v1/channels/main/manifest", { token: await s.hostToken("db1") });
    expect(db1.text).toBe(serializeManifest(release));
    // The same release uploaded again with the missing view adds it; db1 is served it at once.
    const again = await upload(release, [serializeManifest(signHostViews(release, FLEET_KEY).find((v) => Object.hasOwn(v.hosts, "db1")) as Manifest)]);
    expect([again.status, (again.json as { views: number; created: boolean }).created, (again.json as { views: number }).views]).toEqual([200, false, 1]);
    const db1Again = await s.api("GET", "/api/v1/channels/main/manifest", { token: await s.hostToken("db1") });
    expect(Object.keys(parseManifest(db1Again.text).hosts)).toEqual(["db1"]);
  });
});
