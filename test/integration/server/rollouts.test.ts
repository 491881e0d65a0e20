import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { serializeManifest } from "../../../src/manifest/index.js";
import { signedManifest, startTestServer, stopTestPostgres, type Dialect, type TestServer } from "../../harness/control-server.js";

/** Staged rollouts over the API, both databases; the server's clock is the test's, so bake times need no sleeping. */
afterAll(() => stopTestPostgres());

const HOSTS = ["web1", "web2", "web3", "db1"];

async function eventually<T>(f: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await f();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Rollout {
  id: string;
  state: string;
  reason: string | null;
  current_wave: number;
  waves: { name: string; state: string; hosts: string[]; healthy: string[]; failed: string[] }[];
}

describe.each<Dialect>(["sqlite", "postgres"])("staged rollouts (%s)", (dialect) => {
  let s: TestServer;
  let clock = Date.now();
  const tokens = new Map<string, string>();
  const served = async (host: string) => {
    const r = await s.api("GET", "/api/v1/channels/main/manifest", { token: tokens.get(host) });
    return (JSON.parse(r.text) as { sequence: number }).sequence;
  };
  const report = (host: string, sequence: number, status: string, id = `${host}-${sequence}-${status}`) =>
    s.api("POST", "/api/v1/reports", { token: tokens.get(host), body: { id, status, channel: "main", sequence, reason: status === "success" ? undefined : "health check web failed" } });
  const rollout = async (id: string) => (await s.api("GET", `/api/v1/rollouts/${id}`, { token: s.admin })).json as Rollout;

  beforeEach(async () => {
    clock = Date.now();
    s = await startTestServer(dialect, { now: () => clock, tickMs: 50 });
    for (const h of HOSTS) tokens.set(h, await s.hostToken(h, { tags: h.startsWith("db") ? ["db"] : ["web"], channel: "main" }));
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, HOSTS)) });
    expect((await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 2, HOSTS)) })).status).toBe(201);
  });
  afterEach(async () => {
    await s.close();
  });

  it("moves wave by wave after reports and bake time; hosts not reached keep their previous signed manifest", async () => {
    const created = await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, canary: ["web1"], waves: [{ tag: "web" }], bakeSeconds: 60 } });
    expect(created.status).toBe(201);
    const id = (created.json as Rollout).id;
    expect((created.json as Rollout).waves.map((w) => [w.name, w.hosts])).toEqual([
      ["canary", ["web1"]],
      ["wave 1 (@web)", ["web2", "web3"]],
      ["rest", ["db1"]],
    ]);
    expect(await Promise.all(HOSTS.map(served))).toEqual([2, 1, 1, 1]);
    await report("web1", 2, "success");
    await eventually(() => rollout(id), (r) => r.waves[0]?.state === "baking", "the canary to bake");
    expect(await served("web2")).toBe(1);
    clock += 61_000;
    await eventually(() => rollout(id), (r) => r.current_wave === 1, "wave 1 to start");
    expect(await Promise.all(HOSTS.map(served))).toEqual([2, 2, 2, 1]);
    await report("web2", 2, "success");
    await report("web3", 2, "success");
    await eventually(() => rollout(id), (r) => r.waves[1]?.state === "baking", "wave 1 to bake");
    // Promote skips the bake of the current wave.
    expect((await s.api("POST", `/api/v1/rollouts/${id}/promote`, { token: s.admin })).status).toBe(200);
    expect(await served("db1")).toBe(2);
    await report("db1", 2, "success");
    await eventually(() => rollout(id), (r) => r.waves[2]?.state === "baking", "the last wave to bake");
    clock += 61_000;
    const done = await eventually(() => rollout(id), (r) => r.state === "done", "the rollout to finish");
    expect(done.waves.every((w) => w.state === "done")).toBe(true);
    const rel = (await s.api("GET", "/api/v1/releases?channel=main", { token: s.admin })).json as { releases: { sequence: number; state: string }[] };
    expect(rel.releases.map((r) => [r.sequence, r.state])).toEqual([
      [2, "complete"],
      [1, "complete"],
    ]);
  });

  it("a fetch marks its host deploying once; a later rollout of the same hosts reassigns them and clears the mark", async () => {
    const state = (r: Rollout, host: string) => (r.waves as unknown as { progress: { host: string; state: string }[] }[]).flatMap((w) => w.progress).find((p) => p.host === host)?.state;
    const first = (await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, waves: [{ hosts: ["web1", "web2"] }] } })).json as Rollout;
    expect([state(first, "web1"), state(first, "web2"), state(first, "db1")]).toEqual(["assigned", "assigned", "waiting"]);
    expect(await served("web1")).toBe(2);
    await eventually(() => rollout(first.id), (r) => state(r, "web1") === "deploying", "web1 to show deploying");
    expect(state(await rollout(first.id), "web2")).toBe("assigned");
    expect((await s.api("POST", `/api/v1/rollouts/${first.id}/abort`, { token: s.admin })).status).toBe(200);
    expect((await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 3, HOSTS)) })).status).toBe(201);
    const second = (await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 3, waves: [{ hosts: ["web1", "web3"] }] } })).json as Rollout;
    // web1's assignment row is replaced (3, not fetched yet); web2 keeps #2; web3 gets its first row.
    expect([state(second, "web1"), state(second, "web3")]).toEqual(["assigned", "assigned"]);
    expect(await Promise.all(HOSTS.map(served))).toEqual([3, 2, 3, 1]);
    await eventually(() => rollout(second.id), (r) => state(r, "web1") === "deploying" && state(r, "web3") === "deploying", "web1 and web3 to show deploying");
  });

  it("halts by itself when a canary fails, and moves nobody else until resumed", async () => {
    const created = await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, canary: ["web1"], bakeSeconds: 0 } });
    const id = (created.json as Rollout).id;
    await report("web1", 2, "rolled-back");
    const halted = await eventually(() => rollout(id), (r) => r.state === "halted", "the rollout to halt");
    expect(halted.reason).toMatch(/1 host\(s\) failed \(web1\); at most 0 tolerated/);
    const hosts = (await s.api("GET", "/api/v1/hosts", { token: s.admin })).json as { hosts: { host: string; status: string; reason: string | null; desired: { sequence: number } }[] };
    expect(hosts.hosts.find((h) => h.host === "web1")).toMatchObject({ status: "rolled-back", reason: "health check web failed", desired: { sequence: 2 } });
    clock += 3_600_000;
    await new Promise((r) => setTimeout(r, 300));
    expect((await rollout(id)).state).toBe("halted");
    expect(await Promise.all(HOSTS.map(served))).toEqual([2, 1, 1, 1]);
    // A second rollout of the channel waits for this one to be dealt with; a halted one is superseded.
    expect((await s.api("POST", `/api/v1/rollouts/${id}/pause`, { token: s.admin })).status).toBe(409);
    expect((await s.api("POST", `/api/v1/rollouts/${id}/abort`, { token: s.admin })).status).toBe(200);
    expect((await rollout(id)).state).toBe("aborted");
    expect((await s.api("POST", `/api/v1/rollouts/${id}/resume`, { token: s.admin })).status).toBe(409);
  });

  it("a failure within maxFailures lets the wave finish and the next one start", async () => {
    const created = await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, canary: ["web1", "web2"], bakeSeconds: 0, maxFailures: 1 } });
    const id = (created.json as Rollout).id;
    await report("web2", 2, "failed");
    await report("web1", 2, "success");
    await eventually(() => rollout(id), (r) => r.current_wave === 1, "the next wave to start");
    expect(await served("web3")).toBe(2);
    expect((await rollout(id)).state).toBe("running");
  });

  it("a host silent past the timeout but within maxFailures does not hold its wave for ever", async () => {
    const created = await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, canary: ["web1", "web2"], bakeSeconds: 0, maxFailures: 1, waveTimeoutSeconds: 600 } });
    const id = (created.json as Rollout).id;
    await report("web2", 2, "success");
    await new Promise((r) => setTimeout(r, 400));
    expect((await rollout(id)).current_wave).toBe(0);
    clock += 601_000;
    await eventually(() => rollout(id), (r) => r.current_wave === 1, "the next wave to start");
    expect(await served("web3")).toBe(2);
  });

  it("halts when a canary stays silent past the wave timeout", async () => {
    const created = await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, canary: ["web1", "web2"], bakeSeconds: 0, waveTimeoutSeconds: 600, maxFailures: 1 } });
    const id = (created.json as Rollout).id;
    await report("web2", 2, "failed");
    await new Promise((r) => setTimeout(r, 400));
    // One failure is tolerated; web1 has not reported yet, so the canary wave waits.
    expect((await rollout(id)).state).toBe("running");
    clock += 601_000;
    const halted = await eventually(() => rollout(id), (r) => r.state === "halted", "the silent canary to halt the rollout");
    expect(halted.reason).toMatch(/2 host\(s\) failed \(web2, web1, 1 of them silent for 600s\); at most 1 tolerated/);
    expect(await served("web3")).toBe(1);
  });

  it("pause holds a rollout where it is; resume goes on; a second rollout of a busy channel is refused", async () => {
    const created = await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, canary: ["web1"], bakeSeconds: 0 } });
    const id = (created.json as Rollout).id;
    expect((await s.api("POST", `/api/v1/rollouts/${id}/pause`, { token: s.admin })).status).toBe(200);
    await report("web1", 2, "success");
    await new Promise((r) => setTimeout(r, 400));
    expect((await rollout(id)).current_wave).toBe(0);
    expect(await served("web2")).toBe(1);
    const busy = await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2 } });
    expect([busy.status, (busy.json as { error: { code: string } }).error.code]).toEqual([409, "rollout-busy"]);
    expect((await s.api("POST", `/api/v1/rollouts/${id}/resume`, { token: s.admin })).status).toBe(200);
    await eventually(() => served("web2"), (v) => v === 2, "web2 to be served release 2");
    expect((await s.api("POST", `/api/v1/rollouts/${id}/explode`, { token: s.admin })).status).toBe(400);
    expect((await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 9 } })).status).toBe(404);
  });
});
