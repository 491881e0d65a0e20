import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { serializeManifest } from "../../../src/manifest/index.js";
import type { Database } from "../../../src/server/db/schema.js";
import { MIGRATIONS } from "../../../src/server/db/migrations.js";
import { publicKeyOf } from "../../../src/nix/index.js";
import { openDatabase, parseDbUrl, startServer } from "../../../src/server/index.js";
import { FLEET_KEY, signedManifest } from "../../harness/control-server.js";

/** Start-up: migrations applied once, a database from a newer oscd refused, bad --db refused, TLS from files. */
const dir = mkdtempSync(join(tmpdir(), "oscd-server-start-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("server start-up", () => {
  it("applies migrations once, keeps data across restarts, and refuses a database from a newer oscd", async () => {
    const spec = `sqlite:${join(dir, "a.db")}`;
    const a = await openDatabase(spec);
    await a.db.insertInto("hosts").values({ name: "web1", tags: "[]", channel: null, created_at: 1, last_seen: null, state: null, status: "new", reason: null, agent: null }).execute();
    const versions = await a.db.selectFrom("oscd_migrations").select("version").execute();
    await a.close();
    const b = await openDatabase(spec);
    expect(await b.db.selectFrom("oscd_migrations").select("version").execute()).toEqual(versions);
    expect((await b.db.selectFrom("hosts").select("name").execute()).map((h) => h.name)).toEqual(["web1"]);
    await sql`insert into oscd_migrations (version, name, applied_at) values (999, 'from the future', 0)`.execute(b.db);
    await b.close();
    await expect(openDatabase(spec)).rejects.toThrow(/schema version 999, newer than this oscd knows/);
  });

  it("a database made before releases kept their expiry gets it from each stored manifest", async () => {
    const file = join(dir, "old.db");
    // Migrations 1 to 4 by hand, then a release stored as an older oscd stored it.
    const raw = new BetterSqlite3(file);
    const old = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    await sql`create table oscd_migrations (version integer primary key, name text not null, applied_at bigint not null)`.execute(old);
    for (const m of MIGRATIONS.filter((x) => x.version <= 4)) {
      await m.up(old);
      await sql`insert into oscd_migrations (version, name, applied_at) values (${m.version}, ${m.name}, 0)`.execute(old);
    }
    const m = signedManifest("main", 1, ["web1"]);
    await sql`insert into releases (channel, sequence, version, "commit", body, etag, signer, state, created_at) values ('main', 1, '1.0.1', ${m.commit}, ${serializeManifest(m)}, '"e"', 'fleet-test-1', 'complete', 0)`.execute(old);
    await old.destroy();
    const d = await openDatabase(`sqlite:${file}`);
    try {
      const r = await d.db.selectFrom("releases").select(["expires_at"]).executeTakeFirstOrThrow();
      expect(r.expires_at).toBe(Date.parse(m.expiresAt as string));
    } finally {
      await d.close();
    }
  });

  it("refuses a --db that is neither sqlite: nor postgres://", () => {
    expect(() => parseDbUrl("mysql://x")).toThrow(/neither sqlite:PATH nor postgres/);
    expect(() => parseDbUrl("sqlite:")).toThrow(/needs a path/);
    expect(parseDbUrl("postgresql://u@h/db")).toEqual({ dialect: "postgres", target: "postgresql://u@h/db" });
  });

  it("serves HTTPS from certificate files", async () => {
    const key = join(dir, "tls.key");
    const cert = join(dir, "tls.crt");
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
    const s = await startServer({ db: `sqlite:${join(dir, "tls.db")}`, trusted: [publicKeyOf(FLEET_KEY)], listen: "127.0.0.1:0", tls: { certFile: cert, keyFile: key } });
    try {
      expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const body = await new Promise<string>((resolve, reject) => {
        request(`${s.url}/healthz`, { ca: readFileSync(cert) }, (res) => {
          let b = "";
          res.on("data", (d: Buffer) => (b += d.toString()));
          res.on("end", () => resolve(b));
        })
          .on("error", reject)
          .end();
      });
      expect(JSON.parse(body)).toEqual({ ok: true });
    } finally {
      await s.close();
    }
  });
});
