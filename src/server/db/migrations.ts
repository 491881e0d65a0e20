import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.js";

/**
 * Versioned migrations, applied in order at every start; each runs in its own transaction with
 * its version recorded, so a start that dies half-way leaves no half-made schema. Under
 * PostgreSQL an advisory lock keeps several servers starting at once from racing.
 */
interface Migration {
  version: number;
  name: string;
  up: (db: Kysely<Database>) => Promise<void>;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations create tables the typed Database does not know yet */
type AnyDb = Kysely<any>;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "tokens, hosts, releases, assignments, rollouts, reports, jobs",
    up: async (dbTyped) => {
      const db = dbTyped as AnyDb;
      await db.schema
        .createTable("tokens")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("hash", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("host", "text")
        .addColumn("label", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("revoked_at", "bigint")
        .execute();
      await db.schema
        .createTable("hosts")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("tags", "text", (c) => c.notNull())
        .addColumn("channel", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("last_seen", "bigint")
        .addColumn("state", "text")
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("reason", "text")
        .execute();
      await db.schema
        .createTable("releases")
        .addColumn("channel", "text", (c) => c.notNull())
        .addColumn("sequence", "bigint", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("commit", "text", (c) => c.notNull())
        .addColumn("body", "text", (c) => c.notNull())
        .addColumn("etag", "text", (c) => c.notNull())
        .addColumn("signer", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("releases_pk", ["channel", "sequence"])
        .execute();
      await db.schema
        .createTable("assignments")
        .addColumn("host", "text", (c) => c.notNull())
        .addColumn("channel", "text", (c) => c.notNull())
        .addColumn("sequence", "bigint", (c) => c.notNull())
        .addColumn("assigned_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("assignments_pk", ["host", "channel"])
        .execute();
      await db.schema
        .createTable("rollouts")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("channel", "text", (c) => c.notNull())
        .addColumn("sequence", "bigint", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("max_failures", "bigint", (c) => c.notNull())
        .addColumn("bake_ms", "bigint", (c) => c.notNull())
        .addColumn("current_wave", "bigint", (c) => c.notNull())
        .addColumn("reason", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("waves")
        .addColumn("rollout_id", "text", (c) => c.notNull())
        .addColumn("idx", "bigint", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("hosts", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("started_at", "bigint")
        .addColumn("healthy_at", "bigint")
        .addColumn("finished_at", "bigint")
        .addPrimaryKeyConstraint("waves_pk", ["rollout_id", "idx"])
        .execute();
      await db.schema
        .createTable("reports")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("host", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("channel", "text")
        .addColumn("sequence", "bigint")
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("body", "text", (c) => c.notNull())
        .addColumn("received_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("reports_host").on("reports").columns(["host", "received_at"]).execute();
      await db.schema.createIndex("reports_release").on("reports").columns(["channel", "sequence", "host"]).execute();
      await db.schema
        .createTable("jobs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("input", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("log", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("started_at", "bigint")
        .addColumn("finished_at", "bigint")
        .addColumn("delivery", "text", (c) => c.unique())
        .execute();
    },
  },
  {
    version: 2,
    name: "rollout wave timeout",
    up: async (dbTyped) => {
      // 0 = no timeout: rollouts made before it existed keep waiting as they did.
      await (dbTyped as AnyDb).schema.alterTable("rollouts").addColumn("wave_timeout_ms", "bigint", (c) => c.notNull().defaultTo(0)).execute();
    },
  },
  {
    version: 3,
    name: "channel rollout plans, when each host fetched its assigned release",
    up: async (dbTyped) => {
      const db = dbTyped as AnyDb;
      await db.schema
        .createTable("channel_plans")
        .addColumn("channel", "text", (c) => c.primaryKey())
        .addColumn("plan", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.alterTable("assignments").addColumn("fetched_at", "bigint").execute();
    },
  },
  {
    version: 4,
    name: "audit of people's changes",
    up: async (dbTyped) => {
      const db = dbTyped as AnyDb;
      await db.schema
        .createTable("audit")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("actor", "text", (c) => c.notNull())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("token_id", "text", (c) => c.notNull())
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("target", "text", (c) => c.notNull())
        .addColumn("detail", "text", (c) => c.notNull())
        .addColumn("via", "text")
        .execute();
      await db.schema.createIndex("audit_at").on("audit").columns(["at"]).execute();
    },
  },
  {
    version: 5,
    name: "each host's agent state, each release's expiry",
    up: async (dbTyped) => {
      const db = dbTyped as AnyDb;
      await db.schema.alterTable("hosts").addColumn("agent", "text").execute();
      await db.schema.alterTable("releases").addColumn("expires_at", "bigint").execute();
      // Releases stored before: their expiry read from the manifest as uploaded.
      const rows = (await db.selectFrom("releases").select(["channel", "sequence", "body"]).execute()) as { channel: string; sequence: number; body: string }[];
      for (const r of rows) {
        let at: number | null = null;
        try {
          const e = (JSON.parse(r.body) as { expiresAt?: unknown }).expiresAt;
          at = typeof e === "string" && !Number.isNaN(Date.parse(e)) ? Date.parse(e) : null;
        } catch {
          at = null;
        }
        if (at !== null) await db.updateTable("releases").set({ expires_at: at }).where("channel", "=", r.channel).where("sequence", "=", r.sequence).execute();
      }
    },
  },
  {
    version: 6,
    name: "host views of releases",
    up: async (dbTyped) => {
      await (dbTyped as AnyDb).schema
        .createTable("release_views")
        .addColumn("channel", "text", (c) => c.notNull())
        .addColumn("sequence", "bigint", (c) => c.notNull())
        .addColumn("host", "text", (c) => c.notNull())
        .addColumn("etag", "text", (c) => c.notNull())
        .addColumn("body", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("release_views_pk", ["channel", "sequence", "host"])
        .execute();
    },
  },
];
/* eslint-enable @typescript-eslint/no-explicit-any */

export async function migrate(db: Kysely<Database>, dialect: "sqlite" | "postgres"): Promise<number[]> {
  const applied: number[] = [];
  await db.transaction().execute(async (trx) => {
    if (dialect === "postgres") await sql`select pg_advisory_xact_lock(4242001)`.execute(trx);
    await (trx as Kysely<Database>).schema
      .createTable("oscd_migrations")
      .ifNotExists()
      .addColumn("version", "integer", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("applied_at", "bigint", (c) => c.notNull())
      .execute();
    const done = new Set((await trx.selectFrom("oscd_migrations").select("version").execute()).map((r) => Number(r.version)));
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await m.up(trx);
      await trx.insertInto("oscd_migrations").values({ version: m.version, name: m.name, applied_at: Date.now() }).execute();
      applied.push(m.version);
    }
  });
  return applied;
}

/** Newest schema version this oscd knows; a database from a newer oscd is refused at start. */
export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));
