import { PostgresAdapter, sql, type Kysely, type RawBuilder, type Transaction } from "kysely";
import type { DialectName } from "./open.js";

/**
 * Which database a handle (or a transaction on it) speaks, for the few statements written per
 * dialect: a list of 10,000 host names as one parameter (PostgreSQL arrays, SQLite JSON) instead
 * of 20 statements of 500, each a round trip on PostgreSQL.
 */
export function dialectOf<D>(db: Kysely<D> | Transaction<D>): DialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? "postgres" : "sqlite";
}

/** `column` is one of `values`, however many, as one parameter of the handle's dialect. */
export function oneOf<D>(db: Kysely<D> | Transaction<D>, column: string, values: readonly string[]): RawBuilder<boolean> {
  return dialectOf(db) === "postgres" ? sql<boolean>`${sql.ref(column)} = any(${[...values]}::text[])` : sql<boolean>`${sql.ref(column)} in (select value from json_each(${JSON.stringify(values)}))`;
}
