import { afterAll, describe, expect, it } from "vitest";
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { run } from "../../../src/core/exec.js";
import { REPO_ROOT } from "../../harness/oscd.js";
import { newDbSpec, stopTestPostgres } from "../../harness/control-server.js";

/**
 * A PostgreSQL connection that drops while the server is using it (a database restart, a
 * failover, an idle-session killer) fails that query; it must not crash the server process. pg's
 * pool listens for errors only on idle clients, so a checked-out client's "error" event was an
 * uncaught exception. Run in a child process so a crash is seen as one, not as a test-runner error.
 */
const SCRIPT = `
import { sql } from ${JSON.stringify(pathToFileURL(createRequire(join(REPO_ROOT, "package.json")).resolve("kysely")).href)};
import { openDatabase } from ${JSON.stringify(join(REPO_ROOT, "src/server/index.ts"))};
const { db, close } = await openDatabase(process.env.DB_SPEC);
const victim = sql\`select pg_sleep(30)\`.execute(db).then(() => "finished", (e) => "failed: " + e.message);
await new Promise((r) => setTimeout(r, 500));
const found = await sql\`select pid from pg_stat_activity where query like 'select pg_sleep(30)%' and pid <> pg_backend_pid()\`.execute(db);
// SIGKILL, as a crashed backend or a cut network leaves it: no goodbye message on the wire.
for (const row of found.rows) process.kill(Number(row.pid), "SIGKILL");
console.log("query " + (await victim));
await new Promise((r) => setTimeout(r, 500));
const again = await sql\`select 1 as one\`.execute(db);
console.log("after " + JSON.stringify(again.rows));
await close();
`;

afterAll(() => stopTestPostgres());

describe("PostgreSQL connection dropped mid-query", () => {
  it("fails that query and keeps the process (and the pool) alive", async () => {
    const dir = await mkdtemp(join(tmpdir(), "oscd-pgdrop-"));
    try {
      const file = join(dir, "drop.mts");
      await writeFile(file, SCRIPT);
      const spec = (await newDbSpec("postgres")).spec;
      const r = await run(process.execPath, ["--import", "tsx", file], { timeoutMs: 120_000, cwd: REPO_ROOT, env: { DB_SPEC: spec } });
      expect(r.stderr).not.toContain("Connection terminated unexpectedly");
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^query failed: /m);
      expect(r.stdout).toContain('after [{"one":1}]');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
