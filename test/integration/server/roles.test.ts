import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { serializeManifest } from "../../../src/manifest/index.js";
import { signedManifest, startTestServer, stopTestPostgres, type Dialect, type TestServer } from "../../harness/control-server.js";

/**
 * Token roles against both databases: a viewer reads everything people read and changes
 * nothing (every change it tries is a 403 and leaves the database as it was); an operator moves
 * releases and rollouts but makes no tokens; an admin does everything.
 */
afterAll(() => stopTestPostgres());

const HOSTS = ["web1", "web2"];
/** Every read people make: the dashboard's and the CLI's. */
const READS = ["/api/v1/hosts", "/api/v1/hosts/web1", "/api/v1/releases", "/api/v1/releases/main/2", "/api/v1/rollouts", "/api/v1/channels", "/api/v1/channels/main/plan", "/api/v1/jobs", "/api/v1/channels/main/manifest?host=web1", "/api/v1/whoami"];
/** Every change an operator may make, with a body that would succeed (in this order). */
const OPERATE: [string, string, unknown?][] = [
  ["PUT", "/api/v1/channels/main/plan", { plan: { canary: ["web1"], bakeSeconds: 0 } }],
  ["POST", "/api/v1/rollouts", { channel: "main", sequence: 2 }],
  ["POST", "/api/v1/rollouts/ID/pause"],
  ["POST", "/api/v1/rollouts/ID/resume"],
  ["POST", "/api/v1/rollouts/ID/promote"],
  ["POST", "/api/v1/rollouts/ID/abort"],
  ["POST", "/api/v1/releases", "RELEASE3"],
  ["POST", "/api/v1/releases/main/3/complete"],
  ["PUT", "/cache/nix-cache-info", "StoreDir: /nix/store\n"],
];
const ADMIN: [string, string, unknown?][] = [
  ["POST", "/api/v1/tokens", { kind: "viewer", label: "made by" }],
  ["GET", "/api/v1/tokens"],
  ["DELETE", "/api/v1/tokens/TOKEN"],
];

describe.each<Dialect>(["sqlite", "postgres"])("token roles (%s)", (dialect) => {
  let s: TestServer;
  let cacheDir: string;
  const tokens = new Map<string, string>();
  const make = async (kind: string) => ((await s.api("POST", "/api/v1/tokens", { token: s.admin, body: { kind, label: `a ${kind}` } })).json as { id: string; token: string });

  beforeEach(async () => {
    cacheDir = `/tmp/oscd-roles-cache-${process.pid}-${Date.now()}`;
    s = await startTestServer(dialect, { cacheDir, tickMs: 50 });
    for (const h of HOSTS) await s.hostToken(h, { channel: "main" });
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, HOSTS)) });
    await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 2, HOSTS)) });
    for (const role of ["viewer", "operator"]) tokens.set(role, (await make(role)).token);
  });
  afterEach(async () => {
    await s.close();
    const { rm } = await import("node:fs/promises");
    await rm(cacheDir, { recursive: true, force: true });
  });

  /** Everything a change could touch, to compare before and after. */
  const snapshot = async () => {
    const db = s.server.ctx.db;
    return JSON.stringify(await Promise.all(["tokens", "releases", "rollouts", "waves", "assignments", "channel_plans"].map((t) => db.selectFrom(t as "tokens").selectAll().execute())));
  };

  it("a viewer reads everything people read, and every change it tries is refused (403) with nothing changed", async () => {
    const viewer = tokens.get("viewer") as string;
    for (const path of READS) expect([path, (await s.api("GET", path, { token: viewer })).status]).toEqual([path, 200]);
    expect((await s.api("GET", "/api/v1/whoami", { token: viewer })).json).toMatchObject({ role: "viewer", label: "a viewer", can: { read: true, operate: false, admin: false } });
    // Something to try to steer: a running rollout, made by the admin.
    const id = ((await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, canary: ["web1"], bakeSeconds: 3600 } })).json as { id: string }).id;
    const before = await snapshot();
    for (const [method, path, body] of [...OPERATE, ...ADMIN]) {
      const p = path.replace("ID", id).replace("TOKEN", "0123456789abcdef");
      const raw = body === "RELEASE3" ? serializeManifest(signedManifest("main", 3, HOSTS)) : typeof body === "string" ? body : undefined;
      const r = await s.api(method, p, { token: viewer, body: raw === undefined ? body : undefined, raw });
      expect([method, p, r.status]).toEqual([method, p, 403]);
      expect((r.json as { error: { code: string; message: string } }).error).toMatchObject({ code: "forbidden", message: expect.stringMatching(/this is a viewer token/) });
    }
    expect(await snapshot()).toBe(before);
    // The live change stream is a read: a viewer's dashboard is live too.
    const ctl = new AbortController();
    const events = await fetch(`${s.url}/api/v1/events`, { headers: { authorization: `Bearer ${viewer}` }, signal: ctl.signal });
    expect(events.status).toBe(200);
    ctl.abort();
  });

  it("an operator publishes and steers rollouts, but makes, lists and revokes no tokens", async () => {
    const operator = tokens.get("operator") as string;
    let id = "";
    for (const [method, path, body] of OPERATE) {
      const raw = body === "RELEASE3" ? serializeManifest(signedManifest("main", 3, HOSTS)) : typeof body === "string" ? body : undefined;
      const r = await s.api(method, path.replace("ID", id), { token: operator, body: raw === undefined ? body : undefined, raw });
      expect([method, path, r.status]).toEqual([method, path, expect.any(Number)]);
      expect(r.status, `${method} ${path}: ${r.text}`).toBeLessThan(300);
      if (path === "/api/v1/rollouts") id = (r.json as { id: string }).id;
    }
    expect(((await s.api("GET", `/api/v1/rollouts/${id}`, { token: operator })).json as { state: string }).state).toBe("aborted");
    const before = await snapshot();
    for (const [method, path, body] of ADMIN) {
      const r = await s.api(method, path.replace("TOKEN", "0123456789abcdef"), { token: operator, body });
      expect([method, path, r.status]).toEqual([method, path, 403]);
    }
    expect(await snapshot()).toBe(before);
  });

  it("an admin makes tokens of every role; an unknown role is refused; a host token signs nobody in", async () => {
    for (const kind of ["admin", "operator", "viewer"]) expect((await s.api("POST", "/api/v1/tokens", { token: s.admin, body: { kind } })).status).toBe(201);
    expect((await s.api("POST", "/api/v1/tokens", { token: s.admin, body: { kind: "root" } })).status).toBe(400);
    const host = await s.hostToken("web1");
    expect((await s.api("GET", "/api/v1/whoami", { token: host })).json).toMatchObject({ role: "host", host: "web1", can: { read: false, operate: false, admin: false } });
    expect((await s.api("GET", "/api/v1/hosts", { token: host })).status).toBe(403);
    // A role written by a newer oscd grants nothing here.
    const t = await make("viewer");
    await s.server.ctx.db.updateTable("tokens").set({ kind: "auditor" as "viewer" }).where("id", "=", t.id).execute();
    await s.server.ctx.changed(["tokens"]);
    expect((await s.api("GET", "/api/v1/hosts", { token: t.token })).status).toBe(401);
  });
});
