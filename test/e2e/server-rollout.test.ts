import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseManifest, serializeManifest, type Manifest } from "../../src/manifest/index.js";
import { formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf } from "../../src/nix/index.js";
import { createHmac } from "node:crypto";
import { cliJobRunner, createToken, startServer, type RunningServer } from "../../src/server/index.js";
import { AgentProcess, FleetRepo, OSCD_BIN, SimHost, tempDir, testNetwork, uniqueMarker, waitFor } from "../harness/index.js";
import { oscd } from "../integration/builder/helpers.js";

/**
 * A staged rollout over real agents: three SimHosts run `oscd agent` (the built CLI) against
 * `oscd server` on the test bridge, long-polling their manifest and reporting with their own
 * token. A release moves canary → wave → rest, each wave only after the previous reported
 * healthy; a release whose canary fails halts and never reaches the others; a manifest changed
 * inside the server's database is refused by every agent.
 */
const NAMES = ["r1", "r2", "r3"] as const;
const WEBHOOK_SECRET = "e2e-webhook-secret-0123456789";
const key = generateSecretKey("fleet-rollout");
const rootDir = "/nix/var/nix/gcroots/oscd-tests-e2e-server-rollout";
let dir: string;
let fleet: FleetRepo;
let cache: string;
let keyFile: string;
let server: RunningServer;
let admin: string;
const hosts = new Map<string, SimHost>();
const agents = new Map<string, AgentProcess>();

async function api(method: string, path: string, body?: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}

/** `oscd publish` into the file cache, then the signed manifest uploaded to the server (what `oscd publish --server` will do). */
async function publishAndUpload(immediate = false): Promise<Manifest> {
  const r = await oscd(["publish", "--repo", fleet.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, "--json"], { env: { OSCD_SIGNING_KEY_FILE: keyFile } });
  expect(r.exitCode, r.stderr).toBe(0);
  const text = await readFile(join(cache, "channels", "main.json"), "utf8");
  const up = await api("POST", `/api/v1/releases${immediate ? "?immediate=1" : ""}`, text);
  expect(up.status, JSON.stringify(up.json)).toBe(201);
  return parseManifest(text);
}

interface Rollout {
  id: string;
  state: string;
  reason: string | null;
  waves: { name: string; state: string; startedAt: number | null; healthyAt: number | null; hosts: string[] }[];
}
const rollout = async (id: string) => (await api("GET", `/api/v1/rollouts/${id}`)).json as Rollout;

beforeAll(async () => {
  dir = await tempDir("e2e-server-rollout");
  fleet = await FleetRepo.create({ hosts: NAMES.map((name) => ({ name, marker: uniqueMarker() })) });
  const publicKey = formatPublicKey(publicKeyOf(key));
  keyFile = join(dir, "fleet.secret");
  await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
  cache = join(dir, "cache");
  await fleet.commitFile("oscd.toml", `caches = ["file://${cache}"]\n[keys]\ntrusted = ["${publicKey}"]\n`);
  const { gateway } = await testNetwork();
  // Webhook jobs run the real oscd (the built CLI) in the fleet repository; the key comes from the environment.
  process.env.OSCD_SIGNING_KEY_FILE = keyFile;
  server = await startServer({
    db: `sqlite:${join(dir, "server.db")}`,
    trusted: [publicKeyOf(key)],
    listen: `${gateway}:0`,
    tickMs: 200,
    webhookSecret: WEBHOOK_SECRET,
    jobRunner: cliJobRunner({ oscd: [process.execPath, OSCD_BIN], repo: fleet.dir, channel: "main", publishArgs: ["--state-dir", join(dir, "state"), "--roots-dir", rootDir] }),
    releaseJobsImmediately: true,
  });
  admin = (await createToken(server.ctx.db, { kind: "admin" })).token;
  for (const name of NAMES) {
    const h = await SimHost.create({ name });
    hosts.set(name, h);
    const token = (await createToken(server.ctx.db, { kind: "host", host: name, channel: "main" })).token;
    await writeFile(h.path("/root/server-token"), token + "\n", { mode: 0o600 });
    agents.set(
      name,
      await AgentProcess.start(h, {
        hostname: name,
        trustedPublicKeys: [publicKey],
        // One setting for manifests and reports; the token stays in its file (sent as a Bearer header).
        server: { url: server.url, tokenFile: "/root/server-token", channel: "main" },
        manifest: { pollInterval: 1, randomizedDelaySec: 0, longPollSeconds: 30 },
        reports: { retryInterval: 1 },
        health: { retries: 0 },
      }),
    );
  }
}, 300_000);

afterAll(async () => {
  delete process.env.OSCD_SIGNING_KEY_FILE;
  for (const a of agents.values()) await a.kill("KILL").catch(() => undefined);
  for (const h of hosts.values()) await h.destroy();
  await server?.close();
  await fleet?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

describe("oscd server rolling releases out over SimHost agents", () => {
  let first: Manifest;
  let second: Manifest;

  it("a release served to all reaches every agent, and their reports reach the fleet table", async () => {
    first = await publishAndUpload(true);
    for (const name of NAMES) await waitFor(async () => (await hosts.get(name)!.currentSystem()) === first.hosts[name]!.toplevel, 120_000, `${name} to switch to release 1`);
    await waitFor(
      async () => {
        const fleetRows = ((await api("GET", "/api/v1/hosts")).json as { hosts: { status: string; current: { sequence: number | null } }[] }).hosts;
        return fleetRows.length === 3 && fleetRows.every((h) => h.status === "ok" && h.current.sequence === first.sequence);
      },
      60_000,
      "every host to report release 1",
    );
  });

  it("moves wave by wave: canary, then the next wave only once the canary reported healthy", async () => {
    for (const name of NAMES) await fleet.commitHostChange(name, uniqueMarker());
    second = await publishAndUpload();
    const created = await api("POST", "/api/v1/rollouts", JSON.stringify({ channel: "main", sequence: second.sequence, canary: ["r1"], waves: [{ hosts: ["r2"] }], bakeSeconds: 0 }));
    expect(created.status).toBe(201);
    const id = (created.json as Rollout).id;
    await waitFor(async () => (await rollout(id)).state === "done", 240_000, "the rollout to finish");
    const r = await rollout(id);
    expect(r.waves.map((w) => [w.name, w.hosts])).toEqual([
      ["canary", ["r1"]],
      ["wave 1", ["r2"]],
      ["rest", ["r3"]],
    ]);
    // Each wave started only after the previous one was healthy (reported committed).
    for (let i = 1; i < r.waves.length; i++) expect(r.waves[i]!.startedAt!).toBeGreaterThanOrEqual(r.waves[i - 1]!.healthyAt!);
    for (const name of NAMES) expect(await hosts.get(name)!.currentSystem()).toBe(second.hosts[name]!.toplevel);
  });

  it("halts when the canary fails: the agent rolls back, reports it, and the other hosts never see the release", async () => {
    await fleet.setHost({ name: "r1", failSwitch: true, marker: uniqueMarker() });
    for (const name of ["r2", "r3"]) await fleet.commitHostChange(name, uniqueMarker());
    const third = await publishAndUpload();
    const id = ((await api("POST", "/api/v1/rollouts", JSON.stringify({ channel: "main", sequence: third.sequence, canary: ["r1"], bakeSeconds: 0 }))).json as Rollout).id;
    await waitFor(async () => (await rollout(id)).state === "halted", 180_000, "the rollout to halt");
    expect((await rollout(id)).reason).toMatch(/1 host\(s\) failed \(r1\)/);
    expect(await hosts.get("r1")!.currentSystem()).toBe(second.hosts.r1!.toplevel);
    // r2 and r3 stay on release 2: the server kept serving them its manifest.
    await new Promise((r) => setTimeout(r, 3000));
    for (const name of ["r2", "r3"]) {
      expect(await hosts.get(name)!.currentSystem()).toBe(second.hosts[name]!.toplevel);
      expect((await hosts.get(name)!.activations()).some((a) => a.endsWith(third.hosts[name]!.toplevel))).toBe(false);
    }
    const r1 = ((await api("GET", "/api/v1/hosts/r1")).json as { host: { status: string } }).host;
    expect(r1.status).toBe("failed");
    await api("POST", `/api/v1/rollouts/${id}/abort`);
  });

  it("a signed push webhook runs a real publish job whose release every agent deploys; an unsigned one is refused", async () => {
    await fleet.setHost({ name: "r1", marker: uniqueMarker() });
    const head = await fleet.head();
    const body = JSON.stringify({ ref: "refs/heads/main", after: head, deleted: false });
    const post = (headers: Record<string, string>) => fetch(`${server.url}/api/v1/webhooks/github`, { method: "POST", headers: { "content-type": "application/json", "x-github-event": "push", ...headers }, body });
    expect((await post({})).status).toBe(401);
    expect((await post({ "x-hub-signature-256": "sha256=" + createHmac("sha256", "not-the-secret").update(body).digest("hex") })).status).toBe(401);
    const ok = await post({ "x-hub-signature-256": "sha256=" + createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex"), "x-github-delivery": "e2e-1" });
    expect(ok.status).toBe(201);
    const job = ((await ok.json()) as { job: string }).job;
    await waitFor(async () => ["done", "failed"].includes(((await api("GET", `/api/v1/jobs/${job}`)).json as { state: string }).state), 240_000, "the publish job to finish");
    const done = (await api("GET", `/api/v1/jobs/${job}`)).json as { state: string; log: string };
    expect(done.state, done.log).toBe("done");
    expect(done.log).toMatch(/served to every host/);
    const published = parseManifest(await readFile(join(cache, "channels", "main.json"), "utf8"));
    expect(published.commit).toBe(head);
    for (const name of NAMES) await waitFor(async () => (await hosts.get(name)!.currentSystem()) === published.hosts[name]!.toplevel, 120_000, `${name} to deploy the webhook's release`);
    second = published;
  });

  it("a tampered or older manifest served by a compromised server is refused by every agent, and the refusals are reported", async () => {
    // The server's own store is compromised: a newer "release" whose bytes are release 2 with
    // every host pointed at r1's system and the sequence raised, its signature left as it was.
    const forged = serializeManifest({ ...second, sequence: second.sequence + 10, hosts: { r1: second.hosts.r1!, r2: second.hosts.r1!, r3: second.hosts.r1! } });
    await server.ctx.db.insertInto("releases").values({ channel: "main", sequence: second.sequence + 10, version: "evil", commit: second.commit, body: forged, etag: '"forged"', signer: "fleet-rollout", state: "complete", created_at: Date.now() }).execute();
    await server.ctx.changed(["channel:main"]);
    for (const name of NAMES) {
      await agents.get(name)!.waitForLog((l) => l.event === "refused" && l.code === "manifest-untrusted", 60_000);
      expect(await hosts.get(name)!.currentSystem()).toBe(second.hosts[name]!.toplevel);
    }
    await waitFor(
      async () => {
        const rows = await server.ctx.db.selectFrom("reports").select(["host", "body"]).execute();
        return NAMES.every((n) => rows.some((r) => r.host === n && (JSON.parse(r.body) as { type?: string; code?: string }).code === "manifest-untrusted"));
      },
      60_000,
      "every agent to report the refusal",
    );
    // Then it replays release 1's genuine bytes as the newest: older than what the agents applied.
    await server.ctx.db.insertInto("releases").values({ channel: "main", sequence: second.sequence + 20, version: "replay", commit: first.commit, body: serializeManifest(first), etag: '"replayed"', signer: "fleet-rollout", state: "complete", created_at: Date.now() }).execute();
    await server.ctx.changed(["channel:main"]);
    for (const name of NAMES) {
      await agents.get(name)!.waitForLog((l) => l.event === "refused" && l.code === "manifest-sequence", 60_000);
      expect(await hosts.get(name)!.currentSystem()).toBe(second.hosts[name]!.toplevel);
    }
  });
});
