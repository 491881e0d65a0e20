import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serializeManifest } from "../../../src/manifest/index.js";
import { pruneReports, recordReportForTest } from "./data-helpers.js";
import { signedManifest, startTestServer, stopTestPostgres, type Dialect } from "../../harness/control-server.js";
import { ensureBuilt, OSCD_BIN } from "../../harness/oscd.js";

/** The server's data over months: report retention, and backup → restore into a fresh server that serves the same signed releases. */
const dir = mkdtempSync(join(tmpdir(), "oscd-server-data-"));

function oscd(args: string[]) {
  const r = spawnSync("node", [OSCD_BIN, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  await ensureBuilt();
});
afterAll(() => {
  stopTestPostgres();
  rmSync(dir, { recursive: true, force: true });
});

describe("oscd server backup and restore (SQLite)", () => {
  it("a backup taken while the server runs restores into a fresh server that serves the same signed releases to the same tokens", async () => {
    const a = await startTestServer("sqlite");
    try {
      const m1 = serializeManifest(signedManifest("main", 1, ["web1", "web2"]));
      const m2 = serializeManifest(signedManifest("main", 2, ["web1", "web2"]));
      expect((await a.api("POST", "/api/v1/releases?immediate=1", { token: a.admin, raw: m1 })).status).toBe(201);
      expect((await a.api("POST", "/api/v1/releases?immediate=1", { token: a.admin, raw: m2 })).status).toBe(201);
      const web1 = await a.hostToken("web1", { channel: "main" });
      expect((await a.api("POST", "/api/v1/reports", { token: web1, body: { id: "d1", type: "deployment", outcome: "committed", sequence: 2 } })).status).toBe(201);
      const served = await a.api("GET", "/api/v1/channels/main/manifest", { token: web1 });
      expect(served.status).toBe(200);
      expect(served.text).toBe(m2);

      const file = join(dir, "backup.db");
      const b = oscd(["server", "backup", file, "--db", a.dbSpec, "--json"]);
      expect(b.stderr).toBe("");
      expect(b.code).toBe(0);
      expect(JSON.parse(b.stdout)).toMatchObject({ file, schemaVersion: expect.any(Number) });
      // Not over an existing file without --force.
      const again = oscd(["server", "backup", file, "--db", a.dbSpec]);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/^oscd: error\[server-backup-exists\]/);
      // Not over the database a server is running on, even with --force.
      const busy = oscd(["server", "restore", file, "--db", a.dbSpec, "--force"]);
      expect(busy.code).toBe(2);
      expect(busy.stderr).toMatch(/^oscd: error\[server-db-in-use\]/);

      const fresh = `sqlite:${join(dir, "fresh", "server.db")}`;
      const r = oscd(["server", "restore", file, "--db", fresh]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const c = await startTestServer("sqlite", { dbSpec: fresh });
      try {
        // The host's token from before the backup works; the manifest is the same bytes and ETag.
        const s2 = await c.api("GET", "/api/v1/channels/main/manifest", { token: web1 });
        expect(s2.status).toBe(200);
        expect(s2.text).toBe(m2);
        expect(s2.headers.get("etag")).toBe(served.headers.get("etag"));
        const hosts = (await c.api("GET", "/api/v1/hosts", { token: a.admin })).json as { name: string }[] | { hosts: { name: string }[] };
        expect(JSON.stringify(hosts)).toContain("web1");
        const releases = await c.api("GET", "/api/v1/releases/main/1", { token: a.admin });
        expect(releases.status).toBe(200);
      } finally {
        await c.close();
      }
    } finally {
      await a.close();
    }
  });

  it("refuses what it cannot do: PostgreSQL (pg_dump's job), a file that is not an oscd database, an existing database without --force", () => {
    const pg = oscd(["server", "backup", join(dir, "x.db"), "--db", "postgres://oscd@localhost/oscd"]);
    expect(pg.code).toBe(2);
    expect(pg.stderr).toMatch(/^oscd: error\[server-backup-postgres\]/);
    expect(pg.stderr).toMatch(/hint: .*pg_dump/);
    const junk = join(dir, "junk.db");
    writeFileSync(junk, "not a database at all, just text\n".repeat(100));
    const bad = oscd(["server", "restore", junk, "--db", `sqlite:${join(dir, "r1.db")}`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^oscd: error\[server-backup-invalid\]/);
    writeFileSync(join(dir, "existing.db"), "");
    const file = join(dir, "backup.db");
    const exists = oscd(["server", "restore", file, "--db", `sqlite:${join(dir, "existing.db")}`]);
    expect(exists.code).toBe(2);
    expect(exists.stderr).toMatch(/^oscd: error\[server-restore-exists\]/);
  });
});

describe.each<Dialect>(["sqlite", "postgres"])("report retention (%s)", (dialect) => {
  it("prunes old heartbeats and repeated reports, keeping every state change and each host's last report", async () => {
    const s = await startTestServer(dialect);
    try {
      const db = s.server.ctx.db;
      const DAY = 86_400_000;
      const t0 = Date.now() - 100 * DAY;
      const at = (d: number) => t0 + d * DAY;
      const rep = (host: string, id: string, d: number, body: Record<string, unknown>, kind: "report" | "heartbeat" = "report") => recordReportForTest(s, host, { id, ...body }, kind, at(d));
      // web1: deployed A (d0), unchanged ×3, a refusal twice, deployed B, unchanged ×2 (all old); one recent report.
      await rep("web1", "a", 0, { type: "deployment", outcome: "committed", toplevel: "/nix/store/a", generation: 1 });
      for (const d of [1, 2, 3]) await rep("web1", `u${d}`, d, { type: "deployment", outcome: "committed", toplevel: "/nix/store/a", generation: 1 });
      await rep("web1", "x1", 4, { type: "refusal", code: "manifest-expired" });
      await rep("web1", "x2", 5, { type: "refusal", code: "manifest-expired" });
      await rep("web1", "b", 6, { type: "deployment", outcome: "committed", toplevel: "/nix/store/b", generation: 2 });
      await rep("web1", "v7", 7, { type: "deployment", outcome: "committed", toplevel: "/nix/store/b", generation: 2 });
      await rep("web1", "v8", 8, { type: "deployment", outcome: "committed", toplevel: "/nix/store/b", generation: 2 });
      await rep("web1", "new", 95, { type: "deployment", outcome: "committed", toplevel: "/nix/store/b", generation: 2 });
      // web2: only old reports, all the same: the first (a state change) and the last stay.
      for (const d of [0, 1, 2, 3]) await rep("web2", `s${d}`, d, { type: "deployment", outcome: "committed", toplevel: "/nix/store/c", generation: 4 });
      for (const d of [1, 2, 96]) await rep("web3", `h${d}`, d, {}, "heartbeat");

      const r = await pruneReports(db, at(90));
      expect(r).toEqual({ heartbeats: 2, reports: 8 });
      const left = (await db.selectFrom("reports").select(["id"]).orderBy("id").execute()).map((x) => x.id);
      expect(left).toEqual(["web1/a", "web1/b", "web1/new", "web1/x1", "web2/s0", "web2/s3", "web3/h96"].sort());
      // Idempotent.
      expect(await pruneReports(db, at(90))).toEqual({ heartbeats: 0, reports: 0 });
    } finally {
      await s.close();
    }
  });
});
