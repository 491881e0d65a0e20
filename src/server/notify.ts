import { EventEmitter } from "node:events";
import pg from "pg";

/**
 * Change notices between whoever changes what a host is served (a release, a rollout wave, an
 * action) and whoever waits on it (long-polls, server-sent events). With SQLite there is one
 * process, so an in-process emitter is enough; with PostgreSQL several servers share the
 * database, so notices go through `LISTEN/NOTIFY` and every process wakes its own waiters.
 * A notice only says "look again": waiters re-read the database, so a lost or duplicated
 * notice delays or repeats a read, never changes what is served.
 */
export interface Notifier {
  /** Tell every process (this one included) that `topic` changed. */
  publish(topic: string): Promise<void>;
  subscribe(listener: (topic: string) => void): () => void;
  close(): Promise<void>;
}

export const PG_CHANNEL = "oscd_changes";

export class LocalNotifier implements Notifier {
  protected readonly emitter = new EventEmitter();
  constructor() {
    this.emitter.setMaxListeners(0);
  }
  async publish(topic: string): Promise<void> {
    this.emitter.emit("change", topic);
  }
  subscribe(listener: (topic: string) => void): () => void {
    this.emitter.on("change", listener);
    return () => this.emitter.off("change", listener);
  }
  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/**
 * LISTEN on a connection of its own (reconnecting when the database comes back); NOTIFY through a pool.
 * Its own notices come back through LISTEN too; those are skipped (known by the backend process
 * of the pool connection that sent them), as `publish` already told this process: each echo
 * made every waiting long-poll look again, a second read of a 10,000-host channel per wave.
 */
export class PostgresNotifier extends LocalNotifier {
  private client: pg.Client | undefined;
  private closed = false;
  private readonly pool: pg.Pool;
  /** Backend process ids of this notifier's NOTIFY connections, while they are open. */
  private readonly own = new Set<number>();

  constructor(private readonly url: string) {
    super();
    this.pool = new pg.Pool({ connectionString: url, max: 2 });
    this.pool.on("error", () => undefined);
    // As in db/open.ts: a checked-out client whose connection drops must not crash the process.
    this.pool.on("connect", (client) => {
      client.on("error", () => undefined);
      const pid = backendPid(client);
      if (pid !== undefined) this.own.add(pid);
    });
    this.pool.on("remove", (client) => {
      const pid = backendPid(client);
      if (pid !== undefined) this.own.delete(pid);
    });
  }

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on("notification", (n) => {
      if (n.channel !== PG_CHANNEL || typeof n.payload !== "string" || this.own.has(n.processId)) return;
      this.emitter.emit("change", n.payload);
    });
    client.on("error", () => this.reconnect(client));
    client.on("end", () => this.reconnect(client));
    await client.connect();
    await client.query(`LISTEN ${PG_CHANNEL}`);
    this.client = client;
  }

  private reconnect(old: pg.Client): void {
    if (this.closed || this.client !== old) return;
    this.client = undefined;
    const retry = () => {
      if (this.closed) return;
      this.start().then(
        // Notices sent while we were away are lost: wake every waiter to look again.
        () => this.emitter.emit("change", "*"),
        () => setTimeout(retry, 1000).unref(),
      );
    };
    setTimeout(retry, 200).unref();
  }

  override async publish(topic: string): Promise<void> {
    // This process hears it at once (its caches must not answer from before its own write).
    this.emitter.emit("change", topic);
    await this.pool.query("select pg_notify($1, $2)", [PG_CHANNEL, topic]);
  }

  override async close(): Promise<void> {
    this.closed = true;
    await super.close();
    await this.client?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}

/** The server process behind a pg client (node-postgres sets it when the connection starts). */
function backendPid(client: pg.PoolClient): number | undefined {
  const pid = (client as unknown as { processID?: unknown }).processID;
  return typeof pid === "number" ? pid : undefined;
}
