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

const args = (...extra: string[]) => ["publish", "--repo", repo.dir, "--sign-key", join(dir, "fleet.secret"), "--state-dir", join(dir, "state"), "--roots-dir", rootDir, ...extra];

async function releases(): Promise<{ channel: string; sequence: number }[]> {
  return ((await server.api("GET", "/api/v1/releases", { token: server.admin })).json as { releases: { channel: string; sequence: number }[] }).releases;
}

describe("oscd publish --server", () => {
  it("hands the written manifest to the server, which verifies it and keeps it as a release; --refresh too", async () => {
    const r = await oscd(args("--server", server.url, "--server-token-file", join(dir, "admin-token")));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/server http:\/\/127\.0\.0\.1:\d+: main #1 \(\S+\) added as a release\n/);
    // Nothing moves it yet: the output says what it waits for and the commands that move it.
    expect(r.stderr).toMatch(/main #1 \(\S+\) waits for a rollout: hosts keep what they run/);
    expect(r.stderr).toMatch(/start it: oscd rollout start main#1 --server http:\/\/127\.0\.0\.1:\d+ --waves 'canary=HOST; rest' +\(the channel has no plan: \[channels\.main\.rollout\] in oscd\.toml\)/);
    expect(r.stderr).toMatch(/or every host at once: oscd rollout start main#1 --immediate --server /);
    expect(await releases()).toEqual([expect.objectContaining({ channel: "main", sequence: 1 })]);
    // The token never reaches the output.
    expect(r.stdout + r.stderr).not.toContain(server.admin);

    const again = await oscd(args("--refresh", "--server", server.url, "--server-token-file", join(dir, "admin-token")));
    expect(again.exitCode, again.stderr).toBe(0);
    expect((await releases()).map((x) => x.sequence).sort()).toEqual([1, 2]);
  });

  it("a refused upload (wrong token) fails the command, naming the server, with the manifest still in the cache", async () => {
    const r = await oscd(args("--refresh", "--server", server.url, "--server-token-file", join(dir, "wrong-token")));
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/^oscd: error\[server-refused\]: http:\/\/127\.0\.0\.1:\d+\/api\/v1\/releases refused: \[unauthorized\] /m);
    expect(parseManifest(await readFile(join(dir, "cache", "channels", "main.json"), "utf8")).sequence).toBe(3);
    expect((await releases()).map((x) => x.sequence).sort()).toEqual([1, 2]);
  });

  it("hands the channel's plan from oscd.toml to the server, and --rollout starts a rollout with it", async () => {
    await repo.commitFile("oscd.toml", `caches = ["file://${join(dir, "cache")}"]\n[keys]\ntrusted = ["${formatPublicKey(publicKeyOf(FLEET_KEY))}"]\n[channels.main]\nbranch = "main"\n[channels.main.rollout]\nwaves = "canary=web1; rest"\nbake = "2m"\nmaxFailures = 1\n`);
    await repo.commitHostChange("web1", uniqueMarker());
    const r = await oscd(args("--server", server.url, "--server-token-file", join(dir, "admin-token"), "--rollout", "--json"));
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { sequence: number; server: { release: { sequence: number; state: string }; rollout: { id: string; bake_ms: number; max_failures: number; waves: { name: string; hosts: string[] }[] } } };
    expect(out.server.release).toMatchObject({ sequence: out.sequence, state: "pending" });
    expect(out.server.rollout.waves.map((w) => [w.name, w.hosts])).toEqual([["canary", ["web1"]]]);
    expect([out.server.rollout.bake_ms, out.server.rollout.max_failures]).toEqual([120_000, 1]);
    const plan = (await server.api("GET", "/api/v1/channels/main/plan", { token: server.admin })).json as { plan: unknown; source: string };
    expect(plan.plan).toEqual({ canary: ["web1"], waves: [], bakeSeconds: 120, maxFailures: 1, waveTimeoutSeconds: 3600 });
    expect(plan.source).toMatch(/^oscd\.toml at [0-9a-f]{12} \(oscd publish\)$/);
  });

  it("--rollout and --immediate need --server and exclude each other; bad waves are a usage error before anything is built", async () => {
    const both = await oscd(args("--server", server.url, "--rollout", "--immediate"));
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toMatch(/--rollout and --immediate exclude each other/);
    const alone = await oscd(args("--immediate"));
    expect(alone.exitCode).toBe(2);
    const bad = await oscd(args("--server", server.url, "--rollout", "@web; canary=web1"));
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/the canary comes first/);
  });
});
