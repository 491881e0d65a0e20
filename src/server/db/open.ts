import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { OscdError, UsageError } from "../../core/errors.js";
import { FairSqliteDialect } from "./fair-sqlite.js";
import { migrate, SCHEMA_VERSION } from "./migrations.js";
import type { Database } from "./schema.js";

export type DialectName = "sqlite" | "postgres";

export interface ServerDb {
  db: Kysely<Database>;
  dialect: DialectName;
  /** The PostgreSQL URL (for LISTEN/NOTIFY on a connection of its own), undefined for SQLite. */
  url?: string;
  /** SQLite's own handle (for the report hot path); undefined for PostgreSQL. */
  raw?: BetterSqlite3.Database;
  /** PostgreSQL's pool, kysely's own (for the report hot path); undefined for SQLite. */
  pool?: pg.Pool;
  close(): Promise<void>;
}

/** `sqlite:PATH`, `sqlite::memory:`, or `postgres://…` / `postgresql://…`. */
export function parseDbUrl(spec: string): { dialect: DialectName; target: string } {
  if (/^postgres(ql)?:\/\//.test(spec)) return { dialect: "postgres", target: spec };
  if (spec.startsWith("sqlite:")) {
    const target = spec.slice("sqlite:".length);
    if (target.length === 0) throw new UsageError("--db sqlite: needs a path", "e.g. --db sqlite:/var/lib/oscd/server.db", "bad-db");
    return { dialect: "sqlite", target };
  }
  throw new UsageError(`--db ${JSON.stringify(spec.slice(0, 80))} is neither sqlite:PATH nor postgres://…`, "e.g. --db sqlite:/var/lib/oscd/server.db or --db postgres://user@host/oscd", "bad-db");
}

/** PostgreSQL returns bigint as text by default; our bigints are times and sequences that fit a double. */
const pgTypes = {
  getTypeParser: (oid: number, format?: "text" | "binary") => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as "text")),
};

export class DatabaseError extends OscdError {
  constructor(message: string, cause?: unknown) {
    super("server-db", message, { hint: "check --db and that the database is reachable", cause });
  }
}

/**
 * Tools that work on an existing database (`oscd server token list|revoke|create`) refuse an
 * SQLite file that is not there rather than make an empty one: a mistyped or forgotten `--db`
 * would otherwise list nothing and exit 0, or make a token no running server knows.
 */
export function requireExistingDatabase(spec: string, what: string): void {
  const { dialect, target } = parseDbUrl(spec);
  if (dialect !== "sqlite" || target === ":memory:" || existsSync(target)) return;
  throw new UsageError(
    `no server database at ${target}: ${what} works on the database of an oscd server`,
    "check --db (default sqlite:/var/lib/oscd/server.db); oscd server --db … makes the database when it starts, and oscd server token create --create-db makes it for a first token before that",
    "server-db-missing",
  );
}

/** Opens the database and applies migrations. */
export async function openDatabase(spec: string, opts: { poolSize?: number } = {}): Promise<ServerDb> {
  const { dialect, target } = parseDbUrl(spec);
  if (dialect === "sqlite") {
    if (target !== ":memory:") mkdirSync(dirname(resolve(target)), { recursive: true });
    let raw: BetterSqlite3.Database;
    try {
      raw = new BetterSqlite3(target);
    } catch (e) {
      throw new DatabaseError(`cannot open SQLite database ${target}: ${(e as Error).message.split("\n")[0]}`, e);
    }
    // WAL: readers (long-polls, the dashboard) never wait for a writer; NORMAL sync is durable across process crashes.
    raw.pragma("journal_mode = WAL");
    raw.pragma("synchronous = NORMAL");
    raw.pragma("busy_timeout = 5000");
    const db = new Kysely<Database>({ dialect: new FairSqliteDialect({ database: raw }) });
    await ready(db, "sqlite");
    return { db, dialect, raw, close: () => db.destroy() };
  }
  const pool = new pg.Pool({ connectionString: target, max: opts.poolSize ?? 10, types: pgTypes, connectionTimeoutMillis: 10_000 });
  // A database that goes away must not crash the server. The pool listens for errors only on idle
  // clients; a client checked out when its connection drops also emits "error", and with no
  // listener that is an uncaught exception. Its query fails anyway, and that is what callers see.
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  await ready(db, "postgres");
  return { db, dialect, url: target, pool, close: () => db.destroy() };
}

async function ready(db: Kysely<Database>, dialect: DialectName): Promise<void> {
  try {
    await migrate(db, dialect);
    const newest = await db.selectFrom("oscd_migrations").select((eb) => eb.fn.max("version").as("v")).executeTakeFirst();
    if (Number(newest?.v ?? 0) > SCHEMA_VERSION) {
      throw new DatabaseError(`the database has schema version ${String(newest?.v)}, newer than this oscd knows (${SCHEMA_VERSION})`);
    }
  } catch (e) {
    await db.destroy().catch(() => undefined);
    if (e instanceof OscdError) throw e;
    throw new DatabaseError(`cannot prepare the ${dialect} database: ${String((e as Error).message ?? e).split("\n")[0]}`, e);
  }
}
