import type BetterSqlite3 from "better-sqlite3";
import type { Kysely, Transaction } from "kysely";
import { z } from "zod";
import type { Database, HostTable, ReportTable } from "./db/schema.js";
import { badRequest, forbidden, HttpError } from "./errors.js";
import { checkChannel, checkHostName } from "./names.js";

/**
 * Reports and heartbeats from agents. Each carries an id the agent chose; delivering the same
 * id twice (an outbox retrying after a lost answer) records it once. Ids are kept per host, so
 * one host cannot take another's id and make the server drop that host's real report.
 */
const ID = /^[A-Za-z0-9._:-]{1,128}$/;
/**
 * Free text is cut, never refused: an agent retries a refused report for ever (its outbox keeps
 * it until acknowledged), so a long message must not wedge it. The body limit bounds the total.
 */
const text = (max: number) => z.string().transform((v) => (v.length > max ? v.slice(0, max - 1) + "…" : v));
const short = text(400);

export const reportSchema = z
  .object({
    id: z.string().regex(ID, "an id has 1 to 128 letters, digits, '.', '_', ':' and '-'"),
    host: z.string().optional(),
    status: text(40).optional(),
    outcome: text(40).optional(),
    channel: z.string().optional(),
    sequence: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    version: short.optional(),
    commit: short.optional(),
    toplevel: short.optional(),
    generation: z.number().int().min(0).optional(),
    booted: short.optional(),
    rebootNeeded: z.boolean().optional(),
    reason: text(2000).optional(),
    /** The agent's report (src/agent/outbox.ts): deployment | refusal | recovery, with code and message on failure. */
    type: text(40).optional(),
    code: text(100).optional(),
    message: text(2000).optional(),
    deploymentId: short.optional(),
    log: text(32_000).optional(),
    /** drift: what the agent had left running, and what changed it. */
    expected: short.optional(),
    by: short.optional(),
    /** agent: its own state (suspended, a failing manifest source). */
    suspended: z.boolean().optional(),
    fetchError: z.object({ source: text(200), message: text(2000), retryInSeconds: z.number().min(0).optional() }).passthrough().nullable().optional(),
  })
  .passthrough();

export type Report = z.infer<typeof reportSchema>;

/** Outcome words agents use, folded into what the fleet table and rollouts need. */
const HEALTHY = new Set(["success", "succeeded", "committed", "unchanged", "healthy", "ok", "done"]);
const FAILED = new Set(["failed", "failure", "rolled-back", "rolledback", "aborted", "refused", "error"]);

export function foldStatus(s: string | undefined): "ok" | "failed" | "deploying" | "unknown" {
  if (!s) return "unknown";
  const w = s.toLowerCase();
  if (HEALTHY.has(w)) return "ok";
  if (FAILED.has(w)) return "failed";
  if (["started", "deploying", "realising", "switching", "pending", "running", "checking"].includes(w)) return "deploying";
  return "unknown";
}

const STORE_PATH = /\/nix\/store\/[0-9a-z]{32}-([^\s:,;)'"]+)/g;
/** Store paths as their names: `nixos-system-web1-1.4.0`, not 44 characters of hash first. */
export function shortPaths(s: string): string {
  return s.replace(STORE_PATH, "$1");
}
/** The agent's (engine's) words for a deployment undone by a rollback: cause, then the systems. */
const ROLLED_BACK = /^activation of (\S+) failed and was rolled back to (\S+?): ([\s\S]+)$/;

/**
 * Why a report says a host did not take a release, on one line and cause first: what failed
 * (the unit, the check, the refusal), then the code, then the systems (store paths shortened).
 */
export function causeOf(report: Record<string, unknown>): string {
  const pick = (k: string) => (typeof report[k] === "string" && report[k] !== "" ? (report[k] as string) : undefined);
  const code = pick("code");
  const text = (pick("reason") ?? pick("message") ?? code ?? "failed").replace(/[\r\n\u2028\u2029]+/g, " ").trim();
  const rb = ROLLED_BACK.exec(text);
  const line = rb ? `${rb[3]} [${code ?? "rolled-back"}] (${rb[1]} rolled back to ${rb[2]})` : code && !text.includes(code) ? `${text} [${code}]` : text;
  return shortPaths(line).slice(0, 400);
}

/** A deployment that failed and was rolled back (the engine's `rolled-back`), not one left failed. */
export function rolledBack(report: Report): boolean {
  const words = [report.code, report.outcome, report.status].map((w) => w?.toLowerCase());
  return words.includes("rolled-back") || words.includes("rolledback");
}

export function parseReport(raw: unknown): Report {
  const r = reportSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw badRequest("bad-report", `the report is not valid: ${i ? `${i.path.join(".") || "(top level)"}: ${i.message}` : "invalid"}`);
  }
  if (r.data.channel !== undefined) checkChannel(r.data.channel);
  if (r.data.host !== undefined) checkHostName(r.data.host);
  return r.data;
}

export interface Recorded {
  duplicate: boolean;
  status: string;
}

/** The few reads and writes recording a report needs, so one piece of logic runs on both databases. */
interface ReportStore {
  hostChannel(host: string): Promise<string | null | undefined>;
  assignmentChannels(host: string): Promise<string[]>;
  channelHasReleases(channel: string): Promise<boolean>;
  releaseExists(channel: string, sequence: number): Promise<boolean>;
  /** False when the id was already stored. */
  insertReport(row: ReportTable): Promise<boolean>;
  /** Rows updated (0: no such host). */
  updateHost(host: string, set: { last_seen: number; state?: string; status?: string; reason?: string | null }): Promise<number>;
  /** The agent's own state; rows updated. */
  updateAgent(host: string, lastSeen: number, agent: string): Promise<number>;
  insertHost(row: HostTable): Promise<void>;
}

function kyselyStore(trx: Transaction<Database>): ReportStore {
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
 * SQLite's hot path: prepared statements on better-sqlite3 itself (kysely compiles and prepares
 * every query again, which was most of a report's cost). Used only while holding kysely's one
 * connection, so it never runs inside another request's open transaction.
 */
const prepared = new WeakMap<BetterSqlite3.Database, ReturnType<typeof prepare>>();
function prepare(raw: BetterSqlite3.Database) {
  return {
    hostChannel: raw.prepare<[string], { channel: string | null }>("select channel from hosts where name = ?"),
    assignments: raw.prepare<[string], { channel: string }>("select channel from assignments where host = ?"),
    anyRelease: raw.prepare<[string], { sequence: number }>("select sequence from releases where channel = ? limit 1"),
    release: raw.prepare<[string, number], { sequence: number }>("select sequence from releases where channel = ? and sequence = ?"),
    insertReport: raw.prepare("insert into reports (id, host, kind, channel, sequence, status, body, received_at) values (@id, @host, @kind, @channel, @sequence, @status, @body, @received_at) on conflict (id) do nothing"),
    seen: raw.prepare("update hosts set last_seen = ? where name = ?"),
    report: raw.prepare("update hosts set last_seen = ?, state = ?, status = ?, reason = ? where name = ?"),
    status: raw.prepare("update hosts set last_seen = ?, status = ?, reason = ? where name = ?"),
    agent: raw.prepare("update hosts set last_seen = ?, agent = ? where name = ?"),
    insertHost: raw.prepare("insert into hosts (name, tags, channel, created_at, last_seen, state, status, reason, agent) values (@name, @tags, @channel, @created_at, @last_seen, @state, @status, @reason, @agent)"),
  };
}
function sqliteStore(raw: BetterSqlite3.Database): ReportStore {
  let p = prepared.get(raw);
  if (!p) prepared.set(raw, (p = prepare(raw)));
  const q = p;
  return {
    hostChannel: async (host) => q.hostChannel.get(host)?.channel,
    assignmentChannels: async (host) => q.assignments.all(host).map((a) => a.channel),
    channelHasReleases: async (channel) => q.anyRelease.get(channel) !== undefined,
    releaseExists: async (channel, sequence) => q.release.get(channel, sequence) !== undefined,
    insertReport: async (row) => q.insertReport.run(row).changes > 0,
    updateHost: async (host, set) =>
      (set.status === undefined ? q.seen.run(set.last_seen, host) : set.state === undefined ? q.status.run(set.last_seen, set.status, set.reason ?? null, host) : q.report.run(set.last_seen, set.state, set.status, set.reason ?? null, host)).changes,
    updateAgent: async (host, lastSeen, agent) => q.agent.run(lastSeen, agent, host).changes,
    insertHost: async (row) => {
      q.insertHost.run(row);
    },
  };
}

async function record(store: ReportStore, host: string, report: Report, kind: "report" | "heartbeat", now: number): Promise<Recorded> {
  // A refusal (an untrusted, expired or older manifest) means the host did not take the release;
  // a rolled-back deployment did not either, but left the host whole (told apart from `failed`);
  // drift: the running system changed outside the agent (what it runs now is in the report).
  const status =
    kind === "heartbeat" ? "heartbeat" : report.type === "agent" ? "agent" : report.type === "drift" ? "drift" : report.type === "refusal" ? "failed" : rolledBack(report) ? "rolled-back" : foldStatus(report.status ?? report.outcome);
  const reason = status === "failed" || status === "rolled-back" || status === "drift" ? causeOf(report) : null;
  const body = JSON.stringify(report);
  // The agent's reports name a sequence but not a channel: it is the host's.
  let channel = report.channel ?? null;
  if (channel === null && report.sequence !== undefined) {
    channel = (await store.hostChannel(host)) ?? null;
    if (channel === null) {
      const a = await store.assignmentChannels(host);
      if (a.length === 1) channel = a[0] ?? null;
    }
  }
  // Only a report that names its channel itself is refused for an unknown release: an agent
  // retries anything but 2xx, so an inferred channel must never wedge its outbox.
  if (report.channel !== undefined && report.sequence !== undefined && kind === "report") {
    if ((await store.channelHasReleases(report.channel)) && !(await store.releaseExists(report.channel, report.sequence))) {
      throw new HttpError(422, "unknown-release", `channel ${report.channel} has no release #${report.sequence} on this server`);
    }
  }
  const inserted = await store.insertReport({ id: `${host}/${report.id}`, host, kind, channel, sequence: report.sequence ?? null, status, body, received_at: now });
  if (!inserted) return { duplicate: true, status };
  if (status === "agent") {
    // The agent's own state changes nothing about the release it runs.
    const agent = JSON.stringify({ at: report.at ?? null, suspended: report.suspended ?? false, fetchError: report.fetchError ?? null });
    if ((await store.updateAgent(host, now, agent)) === 0) {
      await store.insertHost({ name: host, tags: "[]", channel, created_at: now, last_seen: now, state: null, status: "new", reason: null, agent });
    }
    return { duplicate: false, status };
  }
  // What the host runs is taken from reports that say it runs it; a failed deployment (rolled
  // back) or a refusal names the release it did NOT take, so it changes status and reason only.
  const set = kind === "heartbeat" ? { last_seen: now } : status === "failed" || status === "rolled-back" ? { last_seen: now, status, reason } : { last_seen: now, state: body, status, reason };
  const updated = await store.updateHost(host, set);
  // Hosts get their row with their token; an admin reporting for a host never enrolled makes it.
  if (updated === 0) {
    await store.insertHost({ name: host, tags: "[]", channel, created_at: now, last_seen: now, state: "state" in set ? body : null, status: kind === "report" ? status : "new", reason, agent: null });
  }
  return { duplicate: false, status };
}

/** Stores a report or heartbeat once per (host, id), in one transaction. `raw`: SQLite's own handle, for the fast path. */
export async function recordReport(db: Kysely<Database>, host: string, report: Report, kind: "report" | "heartbeat", now = Date.now(), raw?: BetterSqlite3.Database): Promise<Recorded> {
  if (report.host !== undefined && report.host !== host) throw forbidden(`this token is for host ${host}, not ${report.host}`);
  if (!raw) return db.transaction().execute((trx) => record(kyselyStore(trx), host, report, kind, now));
  let b = batches.get(raw);
  if (!b) batches.set(raw, (b = new SqliteBatch(db, raw)));
  return b.add(host, report, kind, now);
}

interface Pending {
  host: string;
  report: Report;
  kind: "report" | "heartbeat";
  now: number;
  resolve(r: Recorded): void;
  reject(e: unknown): void;
}

/** Most reports one SQLite transaction takes (the rest wait for the next). */
const BATCH_MAX = 1000;
const batches = new WeakMap<BetterSqlite3.Database, SqliteBatch>();

/**
 * SQLite group commit: reports that arrive in the same turn of the event loop are written in one
 * transaction, each in a savepoint of its own (one refused report does not undo the others).
 * A commit writes every page it changed to the WAL, so 10,000 reports of a wave in 10,000
 * transactions wrote the same few index pages 10,000 times. Each request is answered only
 * after the commit that holds its report.
 */
class SqliteBatch {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly raw: BetterSqlite3.Database,
  ) {}

  add(host: string, report: Report, kind: "report" | "heartbeat", now: number): Promise<Recorded> {
    return new Promise((resolve, reject) => {
      this.queue.push({ host, report, kind, now, resolve, reject });
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
    const raw = this.raw;
    const outcomes: ({ ok: Recorded } | { error: unknown })[] = [];
    try {
      await this.db.connection().execute(async () => {
        raw.exec("begin immediate");
        try {
          const store = sqliteStore(raw);
          for (const it of items) {
            raw.exec("savepoint report");
            try {
              outcomes.push({ ok: await record(store, it.host, it.report, it.kind, it.now) });
              raw.exec("release report");
            } catch (e) {
              raw.exec("rollback to report");
              raw.exec("release report");
              outcomes.push({ error: e });
            }
          }
          raw.exec("commit");
        } catch (e) {
          if (raw.inTransaction) raw.exec("rollback");
          throw e;
        }
      });
    } catch (e) {
      // Nothing of this batch was committed: every request hears of it (the agents retry).
      for (const it of items) it.reject(e);
      return;
    }
    items.forEach((it, i) => {
      const o = outcomes[i] as { ok: Recorded } | { error: unknown };
      if ("ok" in o) it.resolve(o.ok);
      else it.reject(o.error);
    });
  }
}

export async function hostHistory(db: Kysely<Database>, host: string, limit = 100): Promise<{ id: string; kind: string; status: string; received_at: number; body: unknown }[]> {
  const rows = await db.selectFrom("reports").select(["id", "kind", "status", "received_at", "body"]).where("host", "=", host).where("kind", "=", "report").orderBy("received_at", "desc").limit(limit).execute();
  return rows.map((r) => ({ ...r, id: r.id.slice(host.length + 1), body: JSON.parse(r.body) as unknown }));
}
