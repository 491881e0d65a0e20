import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A throwaway PostgreSQL cluster for tests: `initdb` + `pg_ctl` from Debian's `postgresql`
 * package, in a temp directory, run as the `postgres` user (root may not run postgres),
 * listening on loopback only. Missing PostgreSQL is an error, never a skip: the server's
 * PostgreSQL half is only proven when these tests run (scripts/lib/setup.sh installs it).
 */
export interface TestPostgres {
  /** `postgres://postgres@127.0.0.1:PORT/DB` for a fresh database. */
  createDatabase(name: string): string;
  url(db: string): string;
  stop(): void;
  /** Stops and starts the server (a database that goes away and comes back). */
  restart(): void;
  stopOnly(): void;
  startOnly(): void;
}

function pgBin(): string {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, "bin", "pg_ctl"))) : [];
  const v = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!v) throw new Error("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/pg_ctl missing): run scripts/test.sh, or apt-get install postgresql");
  return join(base, v, "bin");
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

function asPostgres(args: string[]): void {
  const r = spawnSync("runuser", ["-u", "postgres", "--", ...args], { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${args[0]} failed (${r.status}): ${(r.stderr || r.stdout || "").slice(-800)}`);
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const bin = pgBin();
  if (spawnSync("id", ["postgres"]).status !== 0) throw new Error("there is no postgres user: install Debian's postgresql package (scripts/test.sh does)");
  const dir = mkdtempSync(join(tmpdir(), "oscd-pg-"));
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  chownSync(dir, uid, gid);
  const data = join(dir, "data");
  const port = await freePort();
  asPostgres([join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  const start = () => asPostgres([join(bin, "pg_ctl"), "-D", data, "-l", join(dir, "log"), "-w", "-t", "60", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`, "start"]);
  const stopNow = () => asPostgres([join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]);
  start();
  const url = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  return {
    url,
    createDatabase(name) {
      asPostgres([join(bin, "psql"), "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-q", "-c", `create database ${name}`]);
      return url(name);
    },
    stop() {
      try {
        stopNow();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    restart() {
      stopNow();
      start();
    },
    stopOnly: stopNow,
    startOnly: start,
  };
}
