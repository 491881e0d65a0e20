import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serializeManifest } from "../../../src/manifest/index.js";
import { openDatabase, revokeToken } from "../../../src/server/index.js";
import { newDbSpec, signedManifest, startTestServer, stopTestPostgres, testPostgres, type TestServer } from "../../harness/control-server.js";

/**
 * Several stateless servers over one PostgreSQL database: a release uploaded to one wakes the
 * agents long-polling another (LISTEN/NOTIFY); a token revoked on one stops working on all; the
 * database going away and coming back costs clean 503s, not a crash or a half write.
 */
let a: TestServer;
let b: TestServer;
let spec: string;

beforeAll(async () => {
  spec = (await newDbSpec("postgres")).spec;
  a = await startTestServer("postgres", { dbSpec: spec });
  b = await startTestServer("postgres", { dbSpec: spec });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  stopTestPostgres();
});

describe("several servers over one PostgreSQL", () => {
  it("a release uploaded through one server wakes a long-poll held by another", async () => {
    const web1 = await a.hostToken("web1");
    expect((await b.api("POST", "/api/v1/releases?immediate=1", { token: b.admin, raw: serializeManifest(signedManifest("main", 1, ["web1"])) })).status).toBe(201);
    const first = await a.api("GET", "/api/v1/channels/main/manifest", { token: web1 });
    expect(first.status).toBe(200);
    const waiting = a.api("GET", "/api/v1/channels/main/manifest?wait=120", { token: web1, headers: { "if-none-match": first.headers.get("etag") as string } });
    await new Promise((r) => setTimeout(r, 300));
    expect((await b.api("POST", "/api/v1/releases?immediate=1", { token: b.admin, raw: serializeManifest(signedManifest("main", 2, ["web1"])) })).status).toBe(201);
    const woke = await waiting;
    expect(woke.status).toBe(200);
    expect(JSON.parse(woke.text).sequence).toBe(2);
  });

  it("a token revoked through one server is refused by the other at once, though it had just used it", async () => {
    const made = (await a.api("POST", "/api/v1/tokens", { token: a.admin, body: { kind: "admin" } })).json as { id: string; token: string };
    expect((await a.api("GET", "/api/v1/hosts", { token: made.token })).status).toBe(200);
    expect((await b.api("DELETE", `/api/v1/tokens/${made.id}`, { token: b.admin })).status).toBe(200);
    let status = 200;
    // The notice travels through PostgreSQL: allow it a moment, far below the 5 s cache lifetime.
    for (let i = 0; i < 20 && status === 200; i++) {
      status = (await a.api("GET", "/api/v1/hosts", { token: made.token })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(401);
  });

  it("a token revoked on the database directly (oscd server token revoke) is refused by running servers at once", async () => {
    const made = (await a.api("POST", "/api/v1/tokens", { token: a.admin, body: { kind: "admin" } })).json as { id: string; token: string };
    expect((await a.api("GET", "/api/v1/hosts", { token: made.token })).status).toBe(200);
    const d = await openDatabase(spec);
    try {
      expect(await revokeToken(d.db, made.id, Date.now(), d.dialect)).toBe(true);
    } finally {
      await d.close();
    }
    let status = 200;
    for (let i = 0; i < 20 && status === 200; i++) {
      status = (await a.api("GET", "/api/v1/hosts", { token: made.token })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(401);
  });

  it("answers 503 while the database is away, writes nothing half, and recovers (long-poll notices included)", async () => {
    const pg = await testPostgres();
    const web1 = await a.hostToken("web9");
    await a.api("POST", "/api/v1/releases?immediate=1", { token: a.admin, raw: serializeManifest(signedManifest("ch2", 1, ["web9"])) });
    pg.stopOnly();
    try {
      const r = await a.api("POST", "/api/v1/reports", { token: web1, body: { id: "during-outage", status: "success" } });
      expect(r.status).toBe(503);
      expect((r.json as { error: { code: string } }).error.code).toBe("unavailable");
      expect((await a.api("GET", "/healthz")).status).toBe(200);
    } finally {
      pg.startOnly();
    }
    let status = 0;
    for (let i = 0; i < 100 && status !== 201; i++) {
      status = (await a.api("POST", "/api/v1/reports", { token: web1, body: { id: "after-outage", status: "success" } })).status;
      if (status !== 201) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(201);
    const rows = await a.server.ctx.db.selectFrom("reports").select("id").where("host", "=", "web9").execute();
    expect(rows.map((r) => r.id)).toEqual(["web9/after-outage"]);
    // The LISTEN connection came back too: a release through b wakes a's waiter.
    await new Promise((r) => setTimeout(r, 1500));
    const first = await a.api("GET", "/api/v1/channels/ch2/manifest", { token: web1 });
    const waiting = a.api("GET", "/api/v1/channels/ch2/manifest?wait=60", { token: web1, headers: { "if-none-match": first.headers.get("etag") as string } });
    await new Promise((r) => setTimeout(r, 300));
    expect((await b.api("POST", "/api/v1/releases?immediate=1", { token: b.admin, raw: serializeManifest(signedManifest("ch2", 2, ["web9"])) })).status).toBe(201);
    expect((await waiting).status).toBe(200);
  });
});
