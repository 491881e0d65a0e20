import type { FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import { createHash } from "node:crypto";
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
 * Valid tokens are remembered for a few seconds (keyed by a hash of the header, never the
 * token) so an agent's poll costs no database read; a revocation anywhere clears every
 * process's memory through the notifier, so a revoked token stops working at once.
 */
export class TokenCache {
  private readonly map = new Map<string, { p: Principal; until: number }>();
  private readonly lookup: TokenLookup;
  constructor(
    private readonly db: Kysely<Database>,
    notifier: Notifier,
    private readonly ttlMs = 5000,
    raw?: import("better-sqlite3").Database,
  ) {
    this.lookup = tokenLookup(db, raw);
    notifier.subscribe((topic) => {
      if (topic === "tokens" || topic === "*") this.map.clear();
    });
  }

  async get(header: string | undefined): Promise<Principal> {
    const key = header ? createHash("sha256").update(header).digest("base64") : "";
    const hit = key ? this.map.get(key) : undefined;
    if (hit && hit.until > Date.now()) return hit.p;
    const p = await authenticate(this.db, header, this.lookup);
    if (this.map.size > 50_000) this.map.clear();
    this.map.set(key, { p, until: Date.now() + this.ttlMs });
    return p;
  }
}
