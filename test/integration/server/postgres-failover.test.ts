import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { serializeManifest } from "../../../src/manifest/index.js";
import { openDatabase } from "../../../src/server/index.js";
import { signedManifest, stopTestPostgres, testPostgres } from "../../harness/control-server.js";
import { ensureBuilt } from "../../harness/oscd.js";
import { api, prepareFleetDatabase, startOscdServer, type ServerProcess } from "../../harness/server-process.js";
import { simAgentProcess, type SimAgentProcess } from "../../harness/sim-agents-process.js";

/**
 * Two `oscd server` processes on one PostgreSQL, simulated agents (the real agent's manifest
 * client and report contract) split between them, each listing both servers with its own first
 * (as `server.fallbackUrls`, or a load balancer, gives a machine). A rollout started through one
 * server wakes the long-polls held by the other; one server killed (SIGKILL) in the middle of a
 * rollout loses nothing: its agents go to the other, the rollout finishes there, and every
 * report is stored exactly once.
 */
const CHANNEL = "main";
const N = 40;
const hosts = Array.from({ length: N }, (_, i) => `h${String(i).padStart(3, "0")}`);

let spec: string;
let admin: string;
let a: ServerProcess;
let b: ServerProcess;
let agents: SimAgentProcess | undefined;
const received = new Map<number, Set<string>>();
const acked = new Map<number, Map<string, { created: number; duplicates: number }>>();

async function until(what: string, f: () => Promise<boolean> | boolean): Promise<void> {
  // Bounds a wait that would otherwise hang the suite; never a measure of speed.
  for (let i = 0; i < 1800; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never happened: ${what}`);
}

const call = (base: string, method: string, path: string, body?: string) => api(base, admin, method, path, body);

/** A server's own counts: long-polls held, and manifest answers by status. */
async function metrics(base: string): Promise<{ waiting: number; answered: Map<string, number> }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const answered = new Map<string, number>();
  for (const m of text.matchAll(/^oscd_http_requests_total\{method="GET",route="\/api\/v1\/channels\/:channel\/manifest",status="(\d+)"\} (\d+)/gm)) answered.set(m[1] as string, Number(m[2]));
  return { waiting: Number(/^oscd_long_polls_waiting (\d+)/m.exec(text)?.[1] ?? NaN), answered };
}

const has = (sequence: number, which: readonly string[] = hosts) => which.every((h) => received.get(sequence)?.has(h));
const alive = (s: ServerProcess) => s.child.exitCode === null && s.child.signalCode === null;

async function reportsOf(sequence: number): Promise<{ rows: number; hosts: number; twice: number }> {
  const d = await openDatabase(spec);
  try {
    const r = await d.db.selectFrom("reports").select([sql<number>`count(*)`.as("rows"), sql<number>`count(distinct host)`.as("hosts")]).where("kind", "=", "report").where("channel", "=", CHANNEL).where("sequence", "=", sequence).executeTakeFirstOrThrow();
    const twice = await d.db.selectFrom("reports").select("host").where("kind", "=", "report").where("sequence", "=", sequence).groupBy("host").having(sql`count(*)`, ">", 1).execute();
    return { rows: Number(r.rows), hosts: Number(r.hosts), twice: twice.length };
  } finally {
    await d.close();
  }
}

async function upload(base: string, sequence: number, immediate: boolean): Promise<void> {
  const r = await call(base, "POST", `/api/v1/releases${immediate ? "?immediate=1" : ""}`, serializeManifest(signedManifest(CHANNEL, sequence, hosts)));
  expect(r.status, r.text).toBe(201);
}

async function rollout(base: string, sequence: number, first?: string[]): Promise<string> {
  const r = await call(base, "POST", "/api/v1/rollouts", JSON.stringify({ channel: CHANNEL, sequence, bakeSeconds: 0, ...(first ? { waves: [{ hosts: first }] } : {}) }));
  expect(r.status, r.text).toBe(201);
  return (r.json as { id: string }).id;
}

const stateOf = async (base: string, id: string) => ((await call(base, "GET", `/api/v1/rollouts/${id}`)).json as { state?: string }).state;

beforeAll(async () => {
  await ensureBuilt();
  spec = (await testPostgres()).createDatabase(`oscd_failover_${process.pid}`);
  const prepared = await prepareFleetDatabase(spec, hosts, CHANNEL);
  admin = prepared.admin;
  a = await startOscdServer(spec, { quiet: true });
  b = await startOscdServer(spec, { quiet: true });
  await upload(a.url, 1, true);
  agents = simAgentProcess(
    hosts.map((host, i) => ({ host, token: prepared.tokens.get(host) as string, servers: i % 2 === 0 ? [a.url, b.url] : [b.url, a.url] })),
    // Long-polls of 300 s: within this test an agent gets a release only by being woken.
    { channel: CHANNEL, longPollSeconds: 300, heartbeatSeconds: 0, deployMsMax: 200, startSpreadMs: 500, backoff: { initial: 1, max: 2 }, reportRetrySeconds: 1 },
    {
      received(s, host) {
        let m = received.get(s);
        if (!m) received.set(s, (m = new Set()));
        m.add(host);
      },
      acked(s, host, _id, created) {
        let m = acked.get(s);
        if (!m) acked.set(s, (m = new Map()));
        const e = m.get(host) ?? { created: 0, duplicates: 0 };
        if (created) e.created++;
        else e.duplicates++;
        m.set(host, e);
      },
    },
  );
  await until("every agent holds #1 and a long-poll, half on each server", async () => has(1) && (await metrics(a.url)).waiting === N / 2 && (await metrics(b.url)).waiting === N / 2);
}, 300_000);

afterAll(async () => {
  await agents?.stop();
  for (const s of [a, b]) await s?.stop();
  stopTestPostgres();
});

describe("two servers on one PostgreSQL", () => {
  it("a rollout started through one server wakes the agents held by the other; their reports are stored once", async () => {
    const before = await metrics(a.url);
    await upload(a.url, 2, false);
    const id = await rollout(b.url, 2);
    await until("every agent holds #2", () => has(2));
    const after = await metrics(a.url);
    // Server A answered its 20 held long-polls with the release (a rollout it never saw start)
    // and none of them with a 304: they were woken through PostgreSQL, not timed out.
    expect((after.answered.get("200") ?? 0) - (before.answered.get("200") ?? 0)).toBeGreaterThanOrEqual(N / 2);
    expect(after.answered.get("304") ?? 0).toBe(before.answered.get("304") ?? 0);
    await until("rollout 2 done", async () => (await stateOf(a.url, id)) === "done");
    await until("every report of #2 acknowledged", () => (acked.get(2)?.size ?? 0) === N);
    expect(await reportsOf(2)).toEqual({ rows: N, hosts: N, twice: 0 });
  });

  it("one server killed mid-rollout: its agents go to the other, the rollout finishes, no report lost or stored twice", async () => {
    await upload(b.url, 3, false);
    const canaries = hosts.slice(0, 6);
    const id = await rollout(b.url, 3, canaries);
    await until("the canaries hold #3", () => has(3, canaries));
    // The rest are still on #2: the second wave starts only after the canaries' reports.
    await a.stop("SIGKILL");
    expect(alive(a)).toBe(false);
    await until("every agent holds #3", () => has(3));
    await until("rollout 3 done (on the server left)", async () => (await stateOf(b.url, id)) === "done");
    await until("every report of #3 acknowledged", () => (acked.get(3)?.size ?? 0) === N);
    await until("every agent long-polls the server left", async () => (await metrics(b.url)).waiting === N);
    expect(await reportsOf(3)).toEqual({ rows: N, hosts: N, twice: 0 });
    // Acknowledged as new at most once each: a report stored by the server that died before it
    // answered is acknowledged by the other as a duplicate when the agent sends it again.
    for (const s of [2, 3]) for (const [host, e] of acked.get(s) ?? []) expect([s, host, e.created <= 1, e.created + e.duplicates >= 1]).toEqual([s, host, true, true]);
    const waves = ((await call(b.url, "GET", `/api/v1/rollouts/${id}`)).json as { waves: { hosts: string[]; healthy: string[] }[] }).waves;
    expect(waves.map((w) => w.healthy.length)).toEqual([canaries.length, N - canaries.length]);
  });
});
