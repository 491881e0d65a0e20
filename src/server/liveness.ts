import { sql, type Kysely } from "kysely";
import { oneOf } from "./db/dialect-of.js";
import type { Database } from "./db/schema.js";

/**
 * A host's manifest requests say it is alive: the agent sends no heartbeat of its own, so
 * without this an idle, healthy host (long-polling, nothing to deploy) showed `offline` once its
 * last report was older than the offline time. Requests by host token are remembered here and
 * written together every few seconds, each host at most once a minute: at 10,000 agents renewing
 * their long-polls every 55 s that is one small transaction every 5 s, not a write per request.
 * The hosts go as one parameter: after a long quiet every host is due at once, and 20
 * transactions of 500 were 20 round trips on PostgreSQL.
 */
export class Liveness {
  private readonly pending = new Map<string, number>();
  /** When this process last wrote each host's `last_seen`. */
  private readonly written = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number,
    /** Told when a host that was offline (or never seen) is seen again. */
    private readonly back: () => void,
    private readonly offlineAfterMs: number,
    private readonly everyMs = 5000,
    private readonly rewriteAfterMs = 60_000,
  ) {}

  seen(host: string): void {
    const at = this.now();
    if (at - (this.written.get(host) ?? -Infinity) < this.rewriteAfterMs) return;
    this.pending.set(host, at);
    this.timer ??= setTimeout(() => void this.flush(), this.everyMs);
    this.timer.unref?.();
  }

  /** Writes what is pending (the server's close calls it too). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending];
    this.pending.clear();
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() => this.write(batch));
    return this.flushing;
  }

  private async write(batch: [string, number][]): Promise<void> {
    const at = Math.max(...batch.map(([, t]) => t));
    const cutoff = at - this.offlineAfterMs;
    let returned = 0;
    const hosts = batch.map(([h]) => h);
    try {
      returned = await this.db.transaction().execute(async (trx) => {
        const away = await trx
          .selectFrom("hosts")
          .select(sql<number>`count(*)`.as("n"))
          .where(oneOf(trx, "name", hosts))
          .where((eb) => eb.or([eb("last_seen", "is", null), eb("last_seen", "<", cutoff)]))
          .executeTakeFirst();
        // Never backwards: a report may have written a later time meanwhile.
        await trx
          .updateTable("hosts")
          .set({ last_seen: at })
          .where(oneOf(trx, "name", hosts))
          .where((eb) => eb.or([eb("last_seen", "is", null), eb("last_seen", "<", at)]))
          .execute();
        return Number(away?.n ?? 0);
      });
    } catch {
      // Not written (the database away): the next request of each host tries again.
      return;
    }
    if (this.written.size > 200_000) this.written.clear();
    for (const [h, t] of batch) this.written.set(h, t);
    if (returned > 0) this.back();
  }
}
