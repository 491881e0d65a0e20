import type BetterSqlite3 from "better-sqlite3";
import type { Kysely } from "kysely";
import type { Database } from "./db/schema.js";
import { sqliteStore, type ReportStore } from "./report-stores.js";

/** Most reports one transaction takes (the rest wait for the next). */
const BATCH_MAX = 1000;

/** One transaction of a batch: its statements, and the report store inside it. */
interface BatchTx {
  exec(statement: string): Promise<unknown>;
  store: ReportStore;
}

interface Pending<I, R> {
  item: I;
  resolve(r: R): void;
  reject(e: unknown): void;
}

/**
 * Group commit: reports that arrive in the same turn of the event loop are written in one
 * transaction, each in a savepoint of its own (one refused report does not undo the others).
 * A commit writes every page it changed to the log and waits for it to reach the disk, so
 * 10,000 reports of a wave in 10,000 transactions wrote the same few index pages 10,000 times.
 * Each request is answered only after the commit that holds its report; a batch that cannot
 * commit answers every one of its requests with the error (the agents retry).
 */
export class ReportBatch<I, R> {
  private queue: Pending<I, R>[] = [];
  private scheduled = false;

  constructor(
    private readonly transaction: (work: (tx: BatchTx) => Promise<void>) => Promise<void>,
    private readonly record: (store: ReportStore, item: I) => Promise<R>,
  ) {}

  add(item: I): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const items = this.queue.splice(0, BATCH_MAX);
    this.scheduled = this.queue.length > 0;
    if (this.scheduled) setImmediate(() => void this.flush());
    const outcomes = new Map<Pending<I, R>, { ok: R } | { error: unknown }>();
    try {
      await this.transaction(async (tx) => {
        for (const it of items) {
          await tx.exec("savepoint report");
          try {
            outcomes.set(it, { ok: await this.record(tx.store, it.item) });
            await tx.exec("release savepoint report");
          } catch (e) {
            await tx.exec("rollback to savepoint report");
            await tx.exec("release savepoint report");
            outcomes.set(it, { error: e });
          }
        }
      });
    } catch (e) {
      for (const it of items) it.reject(e);
      return;
    }
    for (const it of items) {
      const o = outcomes.get(it) as { ok: R } | { error: unknown };
      if ("ok" in o) it.resolve(o.ok);
      else it.reject(o.error);
    }
  }
}

/**
 * SQLite: the batch on better-sqlite3's own handle, while holding kysely's one connection, so it
 * never runs inside another request's open transaction.
 */
export function sqliteTransaction(db: Kysely<Database>, raw: BetterSqlite3.Database) {
  return (work: (tx: BatchTx) => Promise<void>) =>
    db.connection().execute(async () => {
      raw.exec("begin immediate");
      try {
        await work({ exec: async (s) => raw.exec(s), store: sqliteStore(raw) });
        raw.exec("commit");
      } catch (e) {
        if (raw.inTransaction) raw.exec("rollback");
        throw e;
      }
    });
}
