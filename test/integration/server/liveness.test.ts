import { Agent, request } from "node:http";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, revokeToken } from "../../../src/server/index.js";
import { startTestServer, stopTestPostgres, type Dialect, type TestServer } from "../../harness/control-server.js";

/**
 * What an idle fleet costs the server (issue 27): an agent's long-polls are its sign of life
 * (it sends no heartbeat), and a token is checked against the database once, not on every
 * renewal — without a remembered token ever outliving its revocation.
 */
afterAll(() => stopTestPostgres());

/** Requests on one kept-alive connection; each says whether it reused the socket. */
function oneConnection(base: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string, token: string) =>
    new Promise<{ status: number; body: string; reused: boolean }>((resolve, reject) => {
      const req = request(`${base}${path}`, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
      });
      req.on("error", reject);
      req.end();
    });
  return { get, close: () => agent.destroy() };
}

async function eventually<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each<Dialect>(["sqlite", "postgres"])("liveness and remembered tokens (%s)", (dialect) => {
  let s: TestServer;
  beforeEach(async () => {
    s = await startTestServer(dialect, { livenessFlushMs: 200 });
  });
  afterEach(async () => {
    await s.close();
  });

  it("a host that only long-polls is seen: an offline host comes back without any report", async () => {
    const token = await s.hostToken("web1");
    const hourAgo = Date.now() - 3_600_000;
    await s.server.ctx.db.updateTable("hosts").set({ last_seen: hourAgo }).where("name", "=", "web1").execute();
    const host = async () => (await s.api("GET", "/api/v1/hosts/web1", { token: s.admin })).json as { host: { status: string; lastSeen: number | null } };
    expect((await host()).host).toMatchObject({ status: "offline", lastSeen: hourAgo });
    // No release yet: 204, and the request still says the host is alive (and how long to hold: the default).
    const first = await s.api("GET", "/api/v1/channels/main/manifest", { token });
    expect([first.status, first.headers.get("x-oscd-long-poll"), first.headers.get("x-oscd-long-poll-seconds")]).toEqual([204, "1", "55"]);
    const back = await eventually("web1 seen", host, (h) => h.host.status !== "offline", 10_000);
    expect(back.host.status).not.toBe("offline");
    expect(back.host.lastSeen).toBeGreaterThan(hourAgo);
    // An admin looking at a host's manifest is not the host being alive.
    await s.hostToken("web2");
    await s.server.ctx.db.updateTable("hosts").set({ last_seen: hourAgo }).where("name", "=", "web2").execute();
    expect((await s.api("GET", "/api/v1/channels/main/manifest?host=web2", { token: s.admin })).status).toBe(204);
    await new Promise((r) => setTimeout(r, 1000));
    expect(((await s.api("GET", "/api/v1/hosts/web2", { token: s.admin })).json as { host: { lastSeen: number } }).host.lastSeen).toBe(hourAgo);
  }, 60_000);

  it("on one kept-alive connection, each request is its own token's: another token, a forged one, a revoked one", async () => {
    const web1 = await s.hostToken("web1");
    const web2 = await s.hostToken("web2");
    const c = oneConnection(s.url);
    try {
      const who = async (token: string) => {
        const r = await c.get("/api/v1/whoami", token);
        return { status: r.status, host: r.status === 200 ? (JSON.parse(r.body) as { host: string }).host : undefined, reused: r.reused };
      };
      expect(await who(web1)).toMatchObject({ status: 200, host: "web1" });
      // The connection remembered web1: another token on it is that token, not web1.
      expect(await who(web2)).toEqual({ status: 200, host: "web2", reused: true });
      const forged = web1.slice(0, -4) + (web1.endsWith("AAAA") ? "BBBB" : "AAAA");
      expect(await who(forged)).toMatchObject({ status: 401, reused: true });
      expect(await who(web1)).toEqual({ status: 200, host: "web1", reused: true });
      const id = /^oscd_([0-9a-f]{16})_/.exec(web1)?.[1] as string;
      expect((await s.api("DELETE", `/api/v1/tokens/${id}`, { token: s.admin })).status).toBe(200);
      // Revoked through the API: refused at once, on the very connection that remembered it.
      expect(await who(web1)).toMatchObject({ status: 401, reused: true });
    } finally {
      c.close();
    }
  });

  it("a token revoked on the database by another process (oscd server token revoke --db) stops working", async () => {
    const web1 = await s.hostToken("web1");
    const c = oneConnection(s.url);
    try {
      expect((await c.get("/api/v1/whoami", web1)).status).toBe(200);
      expect((await c.get("/api/v1/whoami", web1)).status).toBe(200);
      // Another process's connection, as the CLI opens it: nothing of this server is told.
      const other = await openDatabase(s.dbSpec);
      try {
        const id = /^oscd_([0-9a-f]{16})_/.exec(web1)?.[1] as string;
        expect(await revokeToken(other.db, id, Date.now(), other.dialect)).toBe(true);
      } finally {
        await other.close();
      }
      // Remembered for minutes otherwise: within a second or two it must be refused, on the
      // connection that remembered it and on a new one.
      const same = await eventually("refused", () => c.get("/api/v1/whoami", web1), (r) => r.status === 401, 3000);
      expect(same).toMatchObject({ status: 401, reused: true });
      expect((await s.api("GET", "/api/v1/whoami", { token: web1 })).status).toBe(401);
    } finally {
      c.close();
    }
  });

  it("tells agents the hold it was given (--long-poll-seconds) on every manifest answer", async () => {
    const t = await startTestServer(dialect, { longPollSeconds: 240 });
    try {
      const token = await t.hostToken("web1");
      const r = await t.api("GET", "/api/v1/channels/main/manifest", { token });
      expect([r.status, r.headers.get("x-oscd-long-poll-seconds")]).toEqual([204, "240"]);
      const held = await t.api("GET", "/api/v1/channels/main/manifest?wait=1", { token, headers: { "if-none-match": r.headers.get("etag") as string } });
      expect([held.status, held.headers.get("x-oscd-long-poll-seconds")]).toEqual([304, "240"]);
    } finally {
      await t.close();
    }
  });
});
