import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { newDbSpec, startTestServer, stopTestPostgres, type TestServer } from "../../harness/control-server.js";

/**
 * Reports on PostgreSQL take the server's own path (src/server/report-pg.ts: named statements,
 * its own BEGIN/COMMIT/ROLLBACK on a client of the pool), not kysely's. What it must keep: one
 * row per (host, id) across servers racing on one database, a transaction that fails midway
 * leaves nothing (no report without its host update, no half-made host), the failed connection
 * is not handed to the next report, and the agent's retry stores the report once.
 */
let a: TestServer;
let b: TestServer;
let spec: string;
/** Connections of the test's own: one holds locks, one looks (pg_stat_activity stands still inside a transaction). */
let holder: pg.Client;
let probe: pg.Client;

beforeAll(async () => {
  spec = (await newDbSpec("postgres")).spec;
  a = await startTestServer("postgres", { dbSpec: spec });
  b = await startTestServer("postgres", { dbSpec: spec });
  holder = new pg.Client({ connectionString: spec });
  probe = new pg.Client({ connectionString: spec });
  await holder.connect();
  await probe.connect();
});
afterAll(async () => {
  await holder?.end();
  await probe?.end();
  await a?.close();
  await b?.close();
  stopTestPostgres();
});

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The backend of a server's statement waiting for a lock the test holds. */
async function blockedOn(statement: string): Promise<number> {
  let pid = 0;
  await until(`a report waiting in "${statement}"`, async () => {
    const r = await probe.query<{ pid: number }>("select pid from pg_stat_activity where wait_event_type = 'Lock' and query like $1 and pid <> pg_backend_pid()", [`${statement}%`]);
    pid = r.rows[0]?.pid ?? 0;
    return pid !== 0;
  });
  return pid;
}

const reportsOf = async (host: string) => (await probe.query<{ id: string }>("select id from reports where host = $1 order by id", [host])).rows.map((r) => r.id);
const hostRow = async (host: string) => (await probe.query<{ status: string; state: string | null }>("select status, state from hosts where name = $1", [host])).rows[0];

describe("reports on PostgreSQL (the server's own statements)", () => {
  it("takes the fast path: both servers hold the pool's handle", () => {
    expect(a.server.ctx.reportDriver && "postgres" in a.server.ctx.reportDriver).toBe(true);
    expect(b.server.ctx.reportDriver && "postgres" in b.server.ctx.reportDriver).toBe(true);
  });

  it("the same report sent 20 times at once through two servers is stored once: one 201, nineteen 200 duplicates", async () => {
    const token = await a.hostToken("twin1");
    const body = { id: "dep-1", type: "deployment", outcome: "committed", sequence: 1, generation: 3 };
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? b : a).api("POST", "/api/v1/reports", { token, body })));
    expect(answers.map((r) => r.status).sort()).toEqual([...Array(19).fill(200), 201]);
    expect(answers.filter((r) => (r.json as { duplicate: boolean }).duplicate)).toHaveLength(19);
    expect(await reportsOf("twin1")).toEqual(["twin1/dep-1"]);
    expect((await hostRow("twin1"))?.status).toBe("ok");
  });

  it("a report whose connection is killed midway (report written, host not yet) leaves nothing; the retry stores it once", async () => {
    const token = await a.hostToken("cut1");
    const body = { id: "dep-1", type: "deployment", outcome: "committed", sequence: 1 };
    // Hold the host's row: the report's transaction inserts its report, then waits to update the host.
    await holder.query("begin");
    await holder.query("select 1 from hosts where name = 'cut1' for update");
    const sent = a.api("POST", "/api/v1/reports", { token, body });
    const pid = await blockedOn("update hosts");
    expect((await probe.query("select pg_terminate_backend($1) as done", [pid])).rows[0]?.done).toBe(true);
    await holder.query("commit");
    const r = await sent;
    expect(r.status).toBe(503);
    expect(await reportsOf("cut1")).toEqual([]);
    expect((await hostRow("cut1"))?.state).toBeNull();
    // The agent retries: stored once, the host updated; the dead connection was not handed out again.
    const again = await Promise.all([a.api("POST", "/api/v1/reports", { token, body }), ...Array.from({ length: 10 }, (_, i) => a.api("POST", "/api/v1/heartbeats", { token, body: { id: `hb-${i}` } }))]);
    expect(again.map((x) => x.status)).toEqual(Array(11).fill(201));
    expect(await reportsOf("cut1")).toEqual(["cut1/dep-1", ...Array.from({ length: 10 }, (_, i) => `cut1/hb-${i}`)].sort());
    expect((await hostRow("cut1"))?.status).toBe("ok");
    expect((await hostRow("cut1"))?.state).toContain("dep-1");
  });

  it("a host made by an admin's report whose connection is killed midway is not made at all; the retry makes it once", async () => {
    const body = { id: "seen-1", host: "ghost1", status: "success" };
    // Another transaction makes the same host and holds it: the report waits in its own host insert.
    await holder.query("begin");
    await holder.query("insert into hosts (name, tags, channel, created_at, last_seen, state, status, reason) values ('ghost1', '[]', null, 0, null, null, 'new', null)");
    const sent = a.api("POST", "/api/v1/reports", { token: a.admin, body });
    const pid = await blockedOn("insert into hosts");
    await probe.query("select pg_terminate_backend($1)", [pid]);
    await holder.query("rollback");
    expect((await sent).status).toBe(503);
    expect(await reportsOf("ghost1")).toEqual([]);
    expect(await hostRow("ghost1")).toBeUndefined();
    expect((await a.api("POST", "/api/v1/reports", { token: a.admin, body })).status).toBe(201);
    expect(await reportsOf("ghost1")).toEqual(["ghost1/seen-1"]);
    expect(await hostRow("ghost1")).toMatchObject({ status: "ok" });
  });

  it("a report refused midway by the database (its host made meanwhile by another server) rolls back, and its connection serves the next report", async () => {
    const body = { id: "seen-1", host: "ghost2", status: "success" };
    await holder.query("begin");
    await holder.query("insert into hosts (name, tags, channel, created_at, last_seen, state, status, reason) values ('ghost2', '[]', null, 0, null, null, 'new', null)");
    const sent = a.api("POST", "/api/v1/reports", { token: a.admin, body });
    await blockedOn("insert into hosts");
    // The other host row commits: the report's insert fails on the duplicate name, inside its transaction.
    await holder.query("commit");
    expect((await sent).status).toBe(503);
    expect(await reportsOf("ghost2")).toEqual([]);
    // Rolled back before the client went back to the pool: no server connection is left in a transaction.
    const open = await probe.query("select pid from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'");
    expect(open.rows).toEqual([]);
    // The pool hands out the client just released first: a transaction left open (aborted) on it
    // would refuse every statement of the next report.
    for (let i = 0; i < 5; i++) expect((await a.api("POST", "/api/v1/reports", { token: a.admin, body: { ...body, id: `seen-${i + 2}` } })).status).toBe(201);
    expect((await a.api("POST", "/api/v1/reports", { token: a.admin, body })).status).toBe(201);
    expect(await reportsOf("ghost2")).toEqual(["ghost2/seen-1", "ghost2/seen-2", "ghost2/seen-3", "ghost2/seen-4", "ghost2/seen-5", "ghost2/seen-6"]);
    expect(await hostRow("ghost2")).toMatchObject({ status: "ok" });
  });
});
