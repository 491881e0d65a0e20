import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { serializeManifest, signManifest } from "../../../src/manifest/index.js";
import { FLEET_KEY, OTHER_KEY, signedManifest, startTestServer, stopTestPostgres, type Dialect, type TestServer } from "../../harness/control-server.js";

/** The control server's API against both databases: auth on every endpoint, the agent's manifest and reports, releases. */
afterAll(() => stopTestPostgres());

const ENDPOINTS: [string, string, unknown?][] = [
  ["GET", "/api/v1/channels/main/manifest"],
  ["POST", "/api/v1/reports", { id: "r1", status: "success" }],
  ["POST", "/api/v1/heartbeats", { id: "h1" }],
  ["GET", "/api/v1/hosts"],
  ["GET", "/api/v1/hosts/web1"],
  ["POST", "/api/v1/tokens", { kind: "admin" }],
  ["GET", "/api/v1/tokens"],
  ["DELETE", "/api/v1/tokens/0123456789abcdef"],
  ["POST", "/api/v1/releases", {}],
  ["POST", "/api/v1/releases/import", { url: "http://127.0.0.1:1/x.json" }],
  ["GET", "/api/v1/releases"],
  ["GET", "/api/v1/releases/main/1"],
  ["POST", "/api/v1/releases/main/1/complete"],
  ["POST", "/api/v1/rollouts", { channel: "main", sequence: 1 }],
  ["GET", "/api/v1/rollouts"],
  ["GET", "/api/v1/rollouts/abc"],
  ["POST", "/api/v1/rollouts/abc/pause"],
  ["GET", "/api/v1/events"],
  ["GET", "/api/v1/jobs"],
  ["GET", "/api/v1/jobs/abc"],
  ["GET", "/api/v1/channels"],
  ["GET", "/api/v1/channels/main/plan"],
  ["PUT", "/api/v1/channels/main/plan", { plan: {} }],
  ["GET", "/api/v1/whoami"],
];
/** Endpoints no host token may use (people's endpoints). */
const ADMIN_ONLY = ENDPOINTS.filter(([, p]) => p !== "/api/v1/channels/main/manifest" && !p.startsWith("/api/v1/reports") && !p.startsWith("/api/v1/heartbeats") && p !== "/api/v1/hosts/web1" && p !== "/api/v1/whoami");

describe.each<Dialect>(["sqlite", "postgres"])("control server API (%s)", (dialect) => {
  let s: TestServer;
  beforeEach(async () => {
    s = await startTestServer(dialect);
  });
  afterEach(async () => {
    await s.close();
  });

  it("every endpoint but health and metrics refuses a missing, malformed, unknown or revoked token", async () => {
    const made = (await s.api("POST", "/api/v1/tokens", { token: s.admin, body: { kind: "admin" } })).json as { id: string; token: string };
    // Used (and so remembered by the token cache) before it is revoked: revocation must still bite at once.
    expect((await s.api("GET", "/api/v1/hosts", { token: made.token })).status).toBe(200);
    expect((await s.api("DELETE", `/api/v1/tokens/${made.id}`, { token: s.admin })).status).toBe(200);
    // Same id, a different secret: the stored hash must not match.
    const forged = made.token.slice(0, -4) + (made.token.endsWith("AAAA") ? "BBBB" : "AAAA");
    const unknown = "oscd_0123456789abcdef_" + "A".repeat(43);
    for (const [method, path, body] of ENDPOINTS) {
      for (const token of [undefined, "nonsense", unknown, forged, made.token]) {
        const r = await s.api(method, path, { token, body });
        expect([method, path, token === made.token ? "revoked" : token, r.status]).toEqual([method, path, token === made.token ? "revoked" : token, 401]);
        expect((r.json as { error: { code: string } }).error.code).toBe("unauthorized");
      }
    }
    expect((await s.api("GET", "/healthz")).status).toBe(200);
    expect((await s.api("GET", "/metrics")).status).toBe(200);
  });

  it("a host token is refused on admin endpoints and for any other host", async () => {
    const web1 = await s.hostToken("web1");
    await s.hostToken("web2");
    for (const [method, path, body] of ADMIN_ONLY) {
      const r = await s.api(method, path, { token: web1, body });
      expect([method, path, r.status]).toEqual([method, path, 403]);
    }
    expect((await s.api("GET", "/api/v1/hosts/web2", { token: web1 })).status).toBe(403);
    expect((await s.api("GET", "/api/v1/hosts/web1", { token: web1 })).status).toBe(200);
    const spoof = await s.api("POST", "/api/v1/reports", { token: web1, body: { id: "x1", host: "web2", status: "failed", reason: "forged" } });
    expect(spoof.status).toBe(403);
    const hb = await s.api("POST", "/api/v1/heartbeats", { token: web1, body: { id: "x2", host: "web2" } });
    expect(hb.status).toBe(403);
    const web2 = (await s.api("GET", "/api/v1/hosts/web2", { token: s.admin })).json as { host: { status: string; lastSeen: number | null }; history: unknown[] };
    expect(web2.host.status).toBe("new");
    expect(web2.host.lastSeen).toBeNull();
    expect(web2.history).toEqual([]);
    // `?host=` does not let a host token read another host's manifest.
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, ["web1", "web2"])) });
    const m = await s.api("GET", "/api/v1/channels/main/manifest?host=web2", { token: web1 });
    expect(m.status).toBe(200);
    expect((await s.server.ctx.db.selectFrom("reports").selectAll().execute()).length).toBe(0);
  });

  it("serves the host's manifest bytes with an ETag, 304 when unchanged, and a long-poll that wakes on a new release", async () => {
    const web1 = await s.hostToken("web1");
    const first = serializeManifest(signedManifest("main", 1, ["web1"]));
    // No release yet: "nothing for you yet" (204 and a tag of its own), not a 404 the agent would take for an outage.
    expect((await s.api("GET", "/api/v1/channels/main/manifest", { token: web1 })).status).toBe(204);
    expect((await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: first })).status).toBe(201);
    const r1 = await s.api("GET", "/api/v1/channels/main/manifest", { token: web1 });
    expect(r1.status).toBe(200);
    expect(r1.text).toBe(first);
    expect(r1.headers.get("x-oscd-long-poll")).toBe("1");
    const etag = r1.headers.get("etag") as string;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const r2 = await s.api("GET", "/api/v1/channels/main/manifest?wait=1", { token: web1, headers: { "if-none-match": etag } });
    expect(r2.status).toBe(304);
    expect(r2.headers.get("etag")).toBe(etag);

    // A waiting agent is answered by the new release, not by the end of its (long) wait.
    const waiting = s.api("GET", "/api/v1/channels/main/manifest?wait=120", { token: web1, headers: { "if-none-match": etag } });
    await new Promise((r) => setTimeout(r, 300));
    const second = serializeManifest(signedManifest("main", 2, ["web1"]));
    expect((await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: second })).status).toBe(201);
    const woke = await waiting;
    expect(woke.status).toBe(200);
    expect(woke.text).toBe(second);
    expect((await s.api("GET", "/api/v1/channels/main/manifest?wait=abc", { token: web1 })).status).toBe(400);
    // One token cannot hold more than 8 long-polls: the 9th is answered at once (304), not held.
    const etag2 = woke.headers.get("etag") as string;
    const held = Array.from({ length: 8 }, () => s.api("GET", "/api/v1/channels/main/manifest?wait=120", { token: web1, headers: { "if-none-match": etag2 } }));
    await new Promise((r) => setTimeout(r, 300));
    expect((await s.api("GET", "/api/v1/channels/main/manifest?wait=120", { token: web1, headers: { "if-none-match": etag2 } })).status).toBe(304);
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 3, ["web1"])) });
    expect((await Promise.all(held)).map((r) => r.status)).toEqual(Array(8).fill(200));
    expect((await s.api("GET", "/api/v1/channels/..%2Fetc/manifest", { token: web1 })).status).toBe(400);
  });

  it("records a report once however often it is delivered, and refuses a report for an unknown release", async () => {
    const web1 = await s.hostToken("web1");
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, ["web1"])) });
    const report = { id: "dep-1", status: "success", channel: "main", sequence: 1, version: "1.0.1", generation: 7, rebootNeeded: false };
    const a = await s.api("POST", "/api/v1/reports", { token: web1, body: report });
    const b = await s.api("POST", "/api/v1/reports", { token: web1, body: { ...report, status: "failed" } });
    expect([a.status, b.status]).toEqual([201, 200]);
    expect(b.json).toEqual({ id: "dep-1", duplicate: true });
    const rows = await s.server.ctx.db.selectFrom("reports").selectAll().execute();
    expect(rows.map((r) => [r.host, r.status])).toEqual([["web1", "ok"]]);
    const view = (await s.api("GET", "/api/v1/hosts/web1", { token: web1 })).json as { host: { status: string; current: { generation: number } } };
    expect(view.host.status).toBe("ok");
    expect(view.host.current.generation).toBe(7);
    // A deployment rolled back names the release the host did not take: status and reason change, what it runs does not.
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 2, ["web1"])) });
    expect((await s.api("POST", "/api/v1/reports", { token: web1, body: { id: "dep-3", outcome: "rolled-back", sequence: 2, version: "1.0.2", generation: 8, message: "switch-to-configuration exited 4" } })).status).toBe(201);
    const after = (await s.api("GET", "/api/v1/hosts/web1", { token: web1 })).json as { host: { status: string; reason: string; current: { generation: number; sequence: number } } };
    expect(after.host).toMatchObject({ status: "rolled-back", reason: "switch-to-configuration exited 4", current: { generation: 7, sequence: 1 } });
    const unknown = await s.api("POST", "/api/v1/reports", { token: web1, body: { id: "dep-2", status: "success", channel: "main", sequence: 99 } });
    expect((await s.server.ctx.db.selectFrom("reports").select("id").where("id", "=", "web1/dep-2").execute()).length).toBe(0);
    expect(unknown.status).toBe(422);
    expect((unknown.json as { error: { code: string } }).error.code).toBe("unknown-release");
    // Another host may use the same id: ids are per host, so web1's report is not shadowed.
    const web2 = await s.hostToken("web2");
    expect((await s.api("POST", "/api/v1/reports", { token: web2, body: { id: "dep-1", status: "failed", channel: "main", sequence: 1 } })).status).toBe(201);
  });

  it("serves a refresh (the same systems re-signed with a later expiry) at once, without a rollout; a change waits for one", async () => {
    const web1 = await s.hostToken("web1");
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, ["web1"])) });
    const body = { ...signedManifest("main", 1, ["web1"]), sequence: 2, expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString() };
    const { signatures: _s, ...unsigned } = body;
    const refresh = await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signManifest(unsigned, FLEET_KEY)) });
    expect(refresh.json).toMatchObject({ sequence: 2, created: true, state: "complete" });
    expect(JSON.parse((await s.api("GET", "/api/v1/channels/main/manifest", { token: web1 })).text).sequence).toBe(2);
    const change = await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 3, ["web1"])) });
    expect(change.json).toMatchObject({ sequence: 3, state: "pending" });
    expect(JSON.parse((await s.api("GET", "/api/v1/channels/main/manifest", { token: web1 })).text).sequence).toBe(2);
  });

  it("refuses malformed and oversized bodies with a clear error and writes nothing", async () => {
    const web1 = await s.hostToken("web1");
    const bad = await s.api("POST", "/api/v1/reports", { token: web1, raw: "{not json" });
    expect(bad.status).toBe(400);
    expect((bad.json as { error: { code: string } }).error.code).toBe("bad-json");
    expect((await s.api("POST", "/api/v1/reports", { token: web1, body: { status: "success" } })).status).toBe(400);
    expect((await s.api("POST", "/api/v1/reports", { token: web1, body: { id: "../../x", status: "success" } })).status).toBe(400);
    const huge = await s.api("POST", "/api/v1/reports", { token: web1, body: { id: "big", status: "success", pad: "x".repeat(200_000) } });
    expect(huge.status).toBe(413);
    const hugeManifest = await s.api("POST", "/api/v1/releases", { token: s.admin, raw: " ".repeat(5 * 1024 * 1024) });
    expect(hugeManifest.status).toBe(413);
    expect((await s.server.ctx.db.selectFrom("reports").selectAll().execute()).length).toBe(0);
    expect((await s.server.ctx.db.selectFrom("releases").selectAll().execute()).length).toBe(0);
    // Long free text is cut, not refused: the agent would otherwise retry the report for ever.
    const long = await s.api("POST", "/api/v1/reports", { token: web1, body: { id: "long", outcome: "failed", message: "m".repeat(10_000) } });
    expect(long.status).toBe(201);
    const web1Row = (await s.api("GET", "/api/v1/hosts/web1", { token: web1 })).json as { host: { reason: string } };
    expect(web1Row.host.reason.length).toBeLessThanOrEqual(400);
  });

  it("verifies an uploaded manifest: tampered, foreign-signed, older, forked or duplicate-key manifests are refused", async () => {
    const upload = (raw: string) => s.api("POST", "/api/v1/releases", { token: s.admin, raw });
    const m2 = signedManifest("main", 2, ["web1"]);
    expect((await upload(serializeManifest(m2))).status).toBe(201);
    expect((await upload(serializeManifest(m2))).json).toMatchObject({ created: false, sequence: 2 });

    const tampered = { ...m2, sequence: 3, hosts: { web1: { toplevel: m2.hosts.web1!.toplevel.replace("nixos-system", "evil-system"), system: "x86_64-linux" } } };
    const t = await upload(serializeManifest(tampered));
    expect([t.status, (t.json as { error: { code: string } }).error.code]).toEqual([422, "manifest-untrusted"]);
    const foreign = await upload(serializeManifest(signedManifest("main", 3, ["web1"], OTHER_KEY)));
    expect([foreign.status, (foreign.json as { error: { code: string } }).error.code]).toEqual([422, "manifest-untrusted"]);
    const older = await upload(serializeManifest(signedManifest("main", 1, ["web1"])));
    expect([older.status, (older.json as { error: { code: string } }).error.code]).toEqual([409, "manifest-sequence"]);
    const fork = await upload(serializeManifest(signedManifest("main", 2, ["web1", "web2"])));
    expect(fork.status).toBe(409);
    const text = serializeManifest(signedManifest("main", 3, ["web1"]));
    const dup = text.replace('"channel": "main",', '"channel": "main",\n  "channel": "main",');
    const d = await upload(dup);
    expect([d.status, (d.json as { error: { code: string } }).error.code]).toEqual([422, "manifest-format"]);
    const rows = await s.server.ctx.db.selectFrom("releases").select(["sequence", "body"]).execute();
    expect(rows.map((r) => Number(r.sequence))).toEqual([2]);
    expect(rows[0]?.body).toBe(serializeManifest(m2));
  });
});
