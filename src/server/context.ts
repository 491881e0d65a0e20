import type { FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import { hash } from "node:crypto";
import type { PublicKey } from "../nix/index.js";
import { authenticate, tokenLookup, type Principal, type TokenLookup } from "./auth.js";
import type { Database } from "./db/schema.js";
import type { Metrics } from "./metrics.js";
import type { NetbootConfig } from "./netboot.js";
import type { Notifier } from "./notify.js";
import type { ServedCache } from "./served.js";

/** What every route needs: the database, change notices, the trusted keys, a clock. */
export interface ServerContext {
  db: Kysely<Database>;
  dialect: "sqlite" | "postgres";
  /** SQLite's own handle, for the report hot path (reports.ts); undefined for PostgreSQL. */
  sqlite?: import("better-sqlite3").Database;
  /** SQLite's own handle for the report batches (reports.ts); undefined for PostgreSQL. */
  reportDriver?: import("./reports.js").ReportFastPath;
  notifier: Notifier;
  served: ServedCache;
  trusted: readonly PublicKey[];
  /** The channels' trust directory (`--trust-dir`): uploads are checked against its trust root, and agents read it. */
  trustDir?: string;
  metrics: Metrics;
  now: () => number;
  /** Publish change topics (after a write committed). */
  changed(topics: readonly string[]): Promise<void>;
  auth(req: FastifyRequest): Promise<Principal>;
  /** A host reported: the dashboard hears of it (throttled) and running rollouts look again. */
  hostChanged(host: string, report: boolean): void;
  /** The long-poll hold agents are told to ask for (`--long-poll-seconds`); default 55. */
  longPollSeconds?: number;
  /** A host asked for its manifest with its own token: it is alive (liveness.ts). */
  hostSeen(host: string): void;
  /** Secret for GitHub webhooks; undefined turns the webhook endpoint off (it answers 404). */
  webhookSecret?: string;
  /** A binary cache directory served (and filled by PUT) under /cache/, when given. */
  cacheDir?: string;
  /** When set, `/metrics` needs `Authorization: Bearer <this>` (http-security.ts); else it is open. */
  metricsToken?: string;
  /** Netboot (routes/netboot.ts): MAC addresses and where missing kernels and initrds come from. */
  netboot?: NetbootConfig;
}

/**
 * Valid tokens are remembered (keyed by a hash of the header, never the token) so an agent's
 * long-poll, renewed every minute or so, costs no database read: at 10,000 agents that read was
 * a quarter of an idle server's CPU. Memory never outlives a revocation: one through the API
 * (or on any PostgreSQL process) clears every process's memory through the notifier, and on
 * SQLite a write by another process (`oscd server token revoke --db`) is seen through
 * `PRAGMA data_version`, checked at most every 250 ms when a remembered token is used.
 * A kept-alive connection remembers the header it authenticated with, so an agent's next
 * long-poll on it is one string comparison (against what that same connection sent: it tells a
 * client nothing it did not know), not a hash.
 */
export class TokenCache {
  private readonly map = new Map<string, { p: Principal; until: number }>();
  private readonly bySocket = new WeakMap<object, { header: string; p: Principal; until: number; generation: number }>();
  /** Bumped whenever memory is cleared: what a connection remembers from before is not used. */
  private generation = 0;
  private readonly lookup: TokenLookup;
  private dataVersion: number | undefined;
  private checkedAt = 0;
  constructor(
    private readonly db: Kysely<Database>,
    notifier: Notifier,
    private readonly ttlMs = 10 * 60_000,
    private readonly raw?: import("better-sqlite3").Database,
  ) {
    this.lookup = tokenLookup(db, raw);
    this.dataVersion = this.readDataVersion();
    notifier.subscribe((topic) => {
      if (topic === "tokens" || topic === "*") this.clear();
    });
  }

  private clear(): void {
    this.map.clear();
    this.generation++;
  }

  /** SQLite's count of commits by other connections (undefined: not SQLite, or unreadable). */
  private readDataVersion(): number | undefined {
    try {
      return this.raw ? Number(this.raw.pragma("data_version", { simple: true })) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Forgets every token when another process wrote the database since the last look. */
  private checkOthers(now: number): void {
    if (!this.raw || now - this.checkedAt < 250) return;
    this.checkedAt = now;
    const v = this.readDataVersion();
    // Unreadable counts as changed: a check that cannot be made keeps nothing remembered.
    if (v === undefined || v !== this.dataVersion) this.clear();
    this.dataVersion = v;
  }

  /** The principal of `header`; `connection`: the socket it came on, remembered for its next request. */
  async get(header: string | undefined, connection?: object): Promise<Principal> {
    const now = Date.now();
    this.checkOthers(now);
    const mine = connection ? this.bySocket.get(connection) : undefined;
    if (mine && mine.header === header && mine.generation === this.generation && mine.until > now) return mine.p;
    const key = header ? hash("sha256", header, "base64") : "";
    const hit = key ? this.map.get(key) : undefined;
    let entry = hit && hit.until > now ? hit : undefined;
    if (!entry) {
      const generation = this.generation;
      const p = await authenticate(this.db, header, this.lookup);
      entry = { p, until: Date.now() + this.ttlMs };
      // Cleared while the database was read: the answer may predate a revocation; not remembered.
      if (generation !== this.generation) return p;
      if (this.map.size > 50_000) this.clear();
      this.map.set(key, entry);
    }
    if (connection && header) this.bySocket.set(connection, { header, p: entry.p, until: entry.until, generation: this.generation });
    return entry.p;
  }
}
