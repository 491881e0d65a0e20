import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { createToken } from "../../../src/server/index.js";
import { serializeManifest } from "../../../src/manifest/index.js";
import { signedManifest, startTestServer, stopTestPostgres, type Dialect, type TestServer } from "../../harness/control-server.js";

/**
 * What lets one server hold a large fleet (issue 27; bench/fleet.ts measures it at 10,000):
 * a wave wakes every long-poll from one read of the channel, and reports that arrive together
 * are written together without one refused report undoing the others.
 */
afterAll(() => stopTestPostgres());

describe.each<Dialect>(["sqlite", "postgres"])("a fleet on one server (%s)", (dialect) => {
  let s: TestServer;
  beforeEach(async () => {
    s = await startTestServer(dialect);
  });
  afterEach(async () => {
    await s.close();
  });

  it("a rollout wakes 300 waiting long-polls with one read of the channel, each with its own answer", { timeout: 120_000 }, async () => {
    const hosts = Array.from({ length: 300 }, (_, i) => `h${String(i).padStart(3, "0")}`);
    const tokens = new Map<string, string>();
    for (const h of hosts) tokens.set(h, (await createToken(s.server.ctx.db, { kind: "host", host: h, channel: "main" })).token);
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, hosts)) });
    const first = await s.api("GET", "/api/v1/channels/main/manifest", { token: tokens.get("h000") });
    const etag = first.headers.get("etag") as string;
    const second = serializeManifest(signedManifest("main", 2, hosts));
    expect((await s.api("POST", "/api/v1/releases", { token: s.admin, raw: second })).status).toBe(201);
    // Every host waits; the second half is not in the rollout's first wave and must stay waiting.
    const waits = hosts.map((h) => s.api("GET", "/api/v1/channels/main/manifest?wait=30", { token: tokens.get(h), headers: { "if-none-match": etag } }));
    const metric = async () => Number(/^oscd_long_polls_waiting (\d+)/m.exec((await s.api("GET", "/metrics")).text)?.[1]);
    for (let i = 0; i < 200 && (await metric()) < hosts.length; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await metric()).toBe(hosts.length);
    const before = s.server.ctx.served.reads;
    const r = await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, waves: [{ hosts: hosts.slice(0, 150) }], bakeSeconds: 3600 } });
    expect(r.status).toBe(201);
    const woken = await Promise.all(waits.slice(0, 150));
    expect(woken.map((w) => w.status)).toEqual(Array(150).fill(200));
    expect(new Set(woken.map((w) => w.text))).toEqual(new Set([second]));
    // One read for the change (the rollout's own notices may add one), not one per waiter.
    expect(s.server.ctx.served.reads - before).toBeLessThanOrEqual(2);
    expect(await metric()).toBe(150);
    // Counted: the 150 answered, not the 150 still held. (The wake-up's time is observed only when
    // the wake-up answered someone: a waiter's own look as it joined may have been first.)
    const text = (await s.api("GET", "/metrics")).text;
    expect(Number(/^oscd_long_polls_woken_total (\d+)/m.exec(text)?.[1])).toBe(150);
    expect(text).toMatch(/^# TYPE oscd_long_poll_wake_seconds histogram$/m);
    // The hosts of later waves are still held, and still served release #1.
    const late = await s.api("GET", "/api/v1/channels/main/manifest", { token: tokens.get("h299") });
    expect(late.headers.get("etag")).toBe(etag);
    await s.api("POST", `/api/v1/rollouts/${(r.json as { id: string }).id}/promote`, { token: s.admin });
    expect((await Promise.all(waits.slice(150))).map((w) => w.status)).toEqual(Array(150).fill(200));
  });

  it("reports sent at once are each stored once; a refused one among them leaves the others stored", async () => {
    const hosts = Array.from({ length: 50 }, (_, i) => `r${i}`);
    const tokens = await Promise.all(hosts.map((h) => s.hostToken(h)));
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, hosts)) });
    const sends = hosts.flatMap((h, i) => [
      s.api("POST", "/api/v1/reports", { token: tokens[i], body: { id: "dep-1", status: "success", channel: "main", sequence: 1 } }),
      // The same report again (an outbox retrying after a lost answer), in the same moment.
      s.api("POST", "/api/v1/reports", { token: tokens[i], body: { id: "dep-1", status: "success", channel: "main", sequence: 1 } }),
      // A report for a release the server does not have: refused, alone.
      s.api("POST", "/api/v1/reports", { token: tokens[i], body: { id: "dep-bad", status: "success", channel: "main", sequence: 9 } }),
      s.api("POST", "/api/v1/heartbeats", { token: tokens[i], body: { id: `hb-${h}` } }),
    ]);
    const answers = await Promise.all(sends);
    const byKind = (k: number) => answers.filter((_, j) => j % 4 === k).map((a) => a.status);
    expect([...byKind(0), ...byKind(1)].sort()).toEqual([...Array(50).fill(200), ...Array(50).fill(201)]);
    expect(byKind(2)).toEqual(Array(50).fill(422));
    expect(byKind(3)).toEqual(Array(50).fill(201));
    const rows = await s.server.ctx.db.selectFrom("reports").select(["id", "kind"]).execute();
    expect(rows.filter((r) => r.kind === "report").map((r) => r.id).sort()).toEqual(hosts.map((h) => `${h}/dep-1`).sort());
    expect(rows.filter((r) => r.kind === "heartbeat")).toHaveLength(50);
    const fleet = await s.server.ctx.db.selectFrom("hosts").select(["name", "status", "last_seen"]).where("name", "in", hosts).execute();
    expect(fleet.filter((h) => h.status === "ok" && h.last_seen !== null)).toHaveLength(50);
  });
});
