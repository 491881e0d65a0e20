import type pg from "pg";
import { SQL, storeOver, type ReportStore, type Statement } from "./report-stores.js";

/**
 * PostgreSQL's hot path: the statements of report-stores.ts, named, so each connection parses
 * and plans them once (node-postgres keeps the names per connection).
 */
export function pgStore(client: pg.PoolClient): ReportStore {
  const run = (s: Statement, values: unknown[]) => client.query({ name: `oscd_report_${s}`, text: SQL[s], values });
  return storeOver(
    async <R>(s: Statement, v: unknown[]) => (await run(s, v)).rows as R[],
    async (s, v) => (await run(s, v)).rowCount ?? 0,
  );
}

/**
 * One report, one transaction (as kysely's: BEGIN … COMMIT at READ COMMITTED), on a client of
 * kysely's own pool, without kysely, which compiled each of a report's five statements (and
 * PostgreSQL parsed and planned each again). What a report costs the server now is mostly its
 * five round trips. Reports are not batched into one transaction (a batched version was tried,
 * and under load a duplicates test failed once, unexplained). A client that cannot even roll
 * back has lost its connection: it is destroyed, not handed to the next request.
 */
export async function pgTransaction<R>(pool: pg.Pool, work: (store: ReportStore) => Promise<R>): Promise<R> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    const r = await work(pgStore(client));
    await client.query("commit");
    client.release();
    return r;
  } catch (e) {
    const broken = await client.query("rollback").then(
      () => false,
      () => true,
    );
    client.release(broken);
    throw e;
  }
}
