import type BetterSqlite3 from "better-sqlite3";
import type { Transaction } from "kysely";
import type { Database, HostTable, ReportTable } from "./db/schema.js";

/** The few reads and writes recording a report needs, so one piece of logic (reports.ts) runs on every database. */
export interface ReportStore {
  hostChannel(host: string): Promise<string | null | undefined>;
  assignmentChannels(host: string): Promise<string[]>;
  channelHasReleases(channel: string): Promise<boolean>;
  releaseExists(channel: string, sequence: number): Promise<boolean>;
  /** False when the id was already stored. */
  insertReport(row: ReportTable): Promise<boolean>;
  /** Rows updated (0: no such host). */
  updateHost(host: string, set: HostUpdate): Promise<number>;
  /** The agent's own state; rows updated. */
  updateAgent(host: string, lastSeen: number, agent: string): Promise<number>;
  insertHost(row: HostTable): Promise<void>;
}

export interface HostUpdate {
  last_seen: number;
  state?: string;
  status?: string;
  reason?: string | null;
}

export function kyselyStore(trx: Transaction<Database>): ReportStore {
  return {
    hostChannel: async (host) => (await trx.selectFrom("hosts").select("channel").where("name", "=", host).executeTakeFirst())?.channel,
    assignmentChannels: async (host) => (await trx.selectFrom("assignments").select("channel").where("host", "=", host).execute()).map((a) => a.channel),
    channelHasReleases: async (channel) => (await trx.selectFrom("releases").select("sequence").where("channel", "=", channel).limit(1).executeTakeFirst()) !== undefined,
    releaseExists: async (channel, sequence) => (await trx.selectFrom("releases").select("sequence").where("channel", "=", channel).where("sequence", "=", sequence).executeTakeFirst()) !== undefined,
    insertReport: async (row) => Number((await trx.insertInto("reports").values(row).onConflict((oc) => oc.column("id").doNothing()).executeTakeFirst()).numInsertedOrUpdatedRows ?? 0n) > 0,
    updateHost: async (host, set) => Number((await trx.updateTable("hosts").set(set).where("name", "=", host).executeTakeFirst()).numUpdatedRows),
    updateAgent: async (host, lastSeen, agent) => Number((await trx.updateTable("hosts").set({ last_seen: lastSeen, agent }).where("name", "=", host).executeTakeFirst()).numUpdatedRows),
    insertHost: async (row) => {
      await trx.insertInto("hosts").values(row).execute();
    },
  };
}

/**
 * The hot paths' statements, the same as kysely's store above: prepared once per SQLite handle
 * (here) or per PostgreSQL connection (report-pg.ts). Kysely compiles every query again, and
 * sends it as new text to be parsed and planned again, which was most of a report's cost.
 */
export const SQL = {
  hostChannel: "select channel from hosts where name = $1",
  assignments: "select channel from assignments where host = $1",
  anyRelease: "select sequence from releases where channel = $1 limit 1",
  release: "select sequence from releases where channel = $1 and sequence = $2",
  insertReport: "insert into reports (id, host, kind, channel, sequence, status, body, received_at) values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (id) do nothing",
  seen: "update hosts set last_seen = $1 where name = $2",
  report: "update hosts set last_seen = $1, state = $2, status = $3, reason = $4 where name = $5",
  status: "update hosts set last_seen = $1, status = $2, reason = $3 where name = $4",
  agent: "update hosts set last_seen = $1, agent = $2 where name = $3",
  insertHost: "insert into hosts (name, tags, channel, created_at, last_seen, state, status, reason, agent) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
} as const;
export type Statement = keyof typeof SQL;

const reportValues = (r: ReportTable) => [r.id, r.host, r.kind, r.channel, r.sequence, r.status, r.body, r.received_at];
const hostValues = (h: HostTable) => [h.name, h.tags, h.channel, h.created_at, h.last_seen, h.state, h.status, h.reason, h.agent ?? null];

/** Which update a report makes: last seen only, status and reason, or the state it runs too. */
function hostUpdate(host: string, set: HostUpdate): [Statement, unknown[]] {
  if (set.status === undefined) return ["seen", [set.last_seen, host]];
  if (set.state === undefined) return ["status", [set.last_seen, set.status, set.reason ?? null, host]];
  return ["report", [set.last_seen, set.state, set.status, set.reason ?? null, host]];
}

/** Over one statement runner: `rows` for reads, `changes` for writes. */
export function storeOver(rows: <R>(s: Statement, v: unknown[]) => Promise<R[]>, changes: (s: Statement, v: unknown[]) => Promise<number>): ReportStore {
  return {
    hostChannel: async (host) => (await rows<{ channel: string | null }>("hostChannel", [host]))[0]?.channel,
    assignmentChannels: async (host) => (await rows<{ channel: string }>("assignments", [host])).map((a) => a.channel),
    channelHasReleases: async (channel) => (await rows("anyRelease", [channel])).length > 0,
    releaseExists: async (channel, sequence) => (await rows("release", [channel, sequence])).length > 0,
    insertReport: async (row) => (await changes("insertReport", reportValues(row))) > 0,
    updateHost: async (host, set) => changes(...hostUpdate(host, set)),
    updateAgent: async (host, lastSeen, agent) => changes("agent", [lastSeen, agent, host]),
    insertHost: async (row) => {
      await changes("insertHost", hostValues(row));
    },
  };
}

const prepared = new WeakMap<BetterSqlite3.Database, Map<Statement, BetterSqlite3.Statement>>();
/** SQLite: statements prepared once per handle (each `$n` above appears once and in order, so `?`). */
export function sqliteStore(raw: BetterSqlite3.Database): ReportStore {
  let m = prepared.get(raw);
  if (!m) prepared.set(raw, (m = new Map()));
  const cache = m;
  const stmt = (s: Statement) => cache.get(s) ?? (cache.set(s, raw.prepare(SQL[s].replace(/\$\d+/g, "?"))).get(s) as BetterSqlite3.Statement);
  return storeOver(
    async <R>(s: Statement, v: unknown[]) => stmt(s).all(...v) as R[],
    async (s, v) => stmt(s).run(...v).changes,
  );
}
