import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatPublicKey, formatSecretKey, publicKeyOf } from "../../../src/nix/index.js";
import { parseManifest } from "../../../src/manifest/index.js";
import { FleetRepo, tempDir, uniqueMarker } from "../../harness/index.js";
import { FLEET_KEY, startTestServer, type TestServer } from "../../harness/control-server.js";
import { oscd } from "../builder/helpers.js";

/** `oscd publish --server URL`: the manifest just written becomes a release of the control server. */
let dir: string;
let repo: FleetRepo;
let server: TestServer;
const rootDir = "/nix/var/nix/gcroots/oscd-tests-publish-server";

beforeAll(async () => {
  dir = await tempDir("publish-server");
  await writeFile(join(dir, "fleet.secret"), formatSecretKey(FLEET_KEY), { mode: 0o600 });
  repo = await FleetRepo.create({ hosts: [{ name: "web1", marker: uniqueMarker() }] });
  await repo.commitFile("oscd.toml", `caches = ["file://${join(dir, "cache")}"]\n[keys]\ntrusted = ["${formatPublicKey(publicKeyOf(FLEET_KEY))}"]\n`);
  server = await startTestServer("sqlite");
  await writeFile(join(dir, "admin-token"), `${server.admin}\n`, { mode: 0o600 });
  await writeFile(join(dir, "wrong-token"), "oscd_0000000000000000_nope\n", { mode: 0o600 });
});
afterAll(async () => {
  await server?.close();
  await repo?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

const args = (...extra: string[]) => ["publish", "--repo", repo.dir, "--key", join(dir, "fleet.secret"), "--state-dir", join(dir, "state"), "--roots-dir", rootDir, ...extra];

async function releases(): Promise<{ channel: string; sequence: number }[]> {
  return ((await server.api("GET", "/api/v1/releases", { token: server.admin })).json as { releases: { channel: string; sequence: number }[] }).releases;
}

describe("oscd publish --server", () => {
  it("hands the written manifest to the server, which verifies it and keeps it as a release; --refresh too", async () => {
    const r = await oscd(args("--server", server.url, "--server-token-file", join(dir, "admin-token")));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/server http:\/\/127\.0\.0\.1:\d+: channel main sequence 1 added as a release/);
    expect(await releases()).toEqual([expect.objectContaining({ channel: "main", sequence: 1 })]);
    // The token never reaches the output.
    expect(r.stdout + r.stderr).not.toContain(server.admin);

    const again = await oscd(args("--refresh", "--server", server.url, "--server-token-file", join(dir, "admin-token")));
    expect(again.exitCode, again.stderr).toBe(0);
    expect((await releases()).map((x) => x.sequence).sort()).toEqual([1, 2]);
  });

  it("a refused upload (wrong token) fails the command, naming the server, with the manifest still in the cache", async () => {
    const r = await oscd(args("--refresh", "--server", server.url, "--server-token-file", join(dir, "wrong-token")));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^oscd: error\[server-request\]: http:\/\/127\.0\.0\.1:\d+\/api\/v1\/releases refused the release: /m);
    expect(parseManifest(await readFile(join(dir, "cache", "channels", "main.json"), "utf8")).sequence).toBe(3);
    expect((await releases()).map((x) => x.sequence).sort()).toEqual([1, 2]);
  });
});
