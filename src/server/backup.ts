import BetterSqlite3 from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { existsSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { mkdirSync } from "node:fs";
import { UsageError } from "../core/errors.js";
import { parseDbUrl } from "./db/open.js";
import { SCHEMA_VERSION } from "./db/migrations.js";

/**
 * `oscd server backup FILE` and `oscd server restore FILE` for SQLite, through SQLite's online
 * backup (a consistent copy while the server runs, WAL included; a plain `cp` can miss the last
 * transactions). PostgreSQL has its own tools: pg_dump and pg_restore (docs/operations.md).
 */

const PG_HINT = "for PostgreSQL use pg_dump --format=custom and pg_restore into an empty database (docs/operations.md)";

function sqliteTarget(spec: string, what: string): string {
  const { dialect, target } = parseDbUrl(spec);
  if (dialect !== "sqlite") throw new UsageError(`oscd server ${what} works on SQLite databases; ${spec.replace(/\/\/[^@/]*@/, "//")} is PostgreSQL`, PG_HINT, "server-backup-postgres");
  if (target === ":memory:") throw new UsageError(`an in-memory database has nothing to ${what}`, "give --db sqlite:PATH", "bad-db");
  return resolve(target);
}

export interface BackupResult {
  file: string;
  bytes: number;
  schemaVersion: number;
}

/** A consistent copy of the running server's database, written to a temporary name and renamed into place. */
export async function backupDatabase(spec: string, file: string, opts: { force?: boolean } = {}): Promise<BackupResult> {
  const src = sqliteTarget(spec, "backup");
  const out = resolve(file);
  if (!existsSync(src)) throw new UsageError(`there is no database at ${src}`, "check --db", "server-db-missing");
  if (existsSync(out) && !opts.force) throw new UsageError(`${out} exists`, "choose a new file name, or pass --force to replace it", "server-backup-exists");
  mkdirSync(dirname(out), { recursive: true });
  const tmp = join(dirname(out), `.${randomBytes(6).toString("hex")}.backup-tmp`);
  const db = new BetterSqlite3(src, { readonly: true, fileMustExist: true });
  try {
    const r = await db.backup(tmp);
    const version = schemaVersionOf(tmp);
    renameSync(tmp, out);
    return { file: out, bytes: r.totalPages * (db.pragma("page_size", { simple: true }) as number), schemaVersion: version };
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    db.close();
  }
}

/** The oscd schema version of a database file; refuses files that are not an oscd server database. */
export function schemaVersionOf(file: string): number {
  let db: BetterSqlite3.Database;
  try {
    db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new UsageError(`${file} cannot be opened as SQLite: ${(e as Error).message.split("\n")[0]}`, "give a file written by oscd server backup", "server-backup-invalid");
  }
  try {
    const ok = db.pragma("integrity_check", { simple: true }) as string;
    if (ok !== "ok") throw new UsageError(`${file} is damaged (integrity check: ${String(ok).slice(0, 200)})`, "use another backup", "server-backup-invalid");
    const v = db.prepare("select max(version) as v from oscd_migrations").get() as { v: number | null } | undefined;
    if (!v?.v) throw new UsageError(`${file} is not an oscd server database (no migrations recorded)`, "give a file written by oscd server backup", "server-backup-invalid");
    return v.v;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${file} is not an oscd server database: ${(e as Error).message.split("\n")[0]}`, "give a file written by oscd server backup", "server-backup-invalid");
  } finally {
    db.close();
  }
}

/** Refuses while another process (a running server) has the database open. */
function assertNotInUse(target: string): void {
  if (!existsSync(target)) return;
  const db = new BetterSqlite3(target, { fileMustExist: true, timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("begin exclusive");
    db.exec("commit");
  } catch (e) {
    if (/locked|busy/i.test((e as Error).message)) throw new UsageError(`${target} is in use (a server is running on it)`, "stop the server first, then restore", "server-db-in-use");
    throw e;
  } finally {
    db.close();
  }
}

export interface RestoreResult {
  db: string;
  schemaVersion: number;
}

/**
 * Puts a backup in place of the database: checked (integrity, an oscd schema this version
 * knows), copied next to the target and renamed over it, with the target's WAL files removed.
 * An existing database is replaced only with `force`, and never while a server has it open.
 */
export async function restoreDatabase(file: string, spec: string, opts: { force?: boolean } = {}): Promise<RestoreResult> {
  const target = sqliteTarget(spec, "restore");
  const src = resolve(file);
  if (!existsSync(src)) throw new UsageError(`there is no backup at ${src}`, "give a file written by oscd server backup", "server-backup-invalid");
  const version = schemaVersionOf(src);
  if (version > SCHEMA_VERSION) throw new UsageError(`${src} was written by a newer oscd (schema ${version}, this one knows ${SCHEMA_VERSION})`, "restore with that oscd version or newer", "server-backup-newer");
  if (existsSync(target)) {
    if (!opts.force) throw new UsageError(`${target} exists`, "move it away, or pass --force to replace it (stop the server first)", "server-restore-exists");
    assertNotInUse(target);
  }
  mkdirSync(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${randomBytes(6).toString("hex")}.restore-tmp`);
  const from = new BetterSqlite3(src, { readonly: true, fileMustExist: true });
  try {
    await from.backup(tmp);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    from.close();
  }
  for (const suffix of ["-wal", "-shm"]) rmSync(`${target}${suffix}`, { force: true });
  renameSync(tmp, target);
  // Migrations newer than the backup run when the server starts on it.
  return { db: target, schemaVersion: version };
}
