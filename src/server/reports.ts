import type BetterSqlite3 from "better-sqlite3";
import type { Kysely } from "kysely";
import type pg from "pg";
import { z } from "zod";
import type { Database } from "./db/schema.js";
import { ReportBatch, sqliteTransaction } from "./report-batch.js";
import { pgTransaction } from "./report-pg.js";
import { kyselyStore, type ReportStore } from "./report-stores.js";
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

/** The database's own handle for reports (SQLite's, or PostgreSQL's pool): they skip kysely's query compiling. */
export type ReportFastPath = { sqlite: BetterSqlite3.Database } | { postgres: pg.Pool };

interface Item {
  host: string;
  report: Report;
  kind: "report" | "heartbeat";
  now: number;
}
const batches = new WeakMap<object, ReportBatch<Item, Recorded>>();

/**
 * Stores a report or heartbeat once per (host, id). On SQLite (`fast`), reports that arrive
 * together are committed together (report-batch.ts); on PostgreSQL, one transaction each
 * (report-pg.ts with `fast`, kysely's without).
 */
export async function recordReport(db: Kysely<Database>, host: string, report: Report, kind: "report" | "heartbeat", now = Date.now(), fast?: ReportFastPath): Promise<Recorded> {
  if (report.host !== undefined && report.host !== host) throw forbidden(`this token is for host ${host}, not ${report.host}`);
  if (!fast) return db.transaction().execute((trx) => record(kyselyStore(trx), host, report, kind, now));
  if ("postgres" in fast) return pgTransaction(fast.postgres, (store) => record(store, host, report, kind, now));
  const key = fast.sqlite;
  let b = batches.get(key);
  if (!b) {
    const transaction = sqliteTransaction(db, fast.sqlite);
    batches.set(key, (b = new ReportBatch(transaction, (store, it: Item) => record(store, it.host, it.report, it.kind, it.now))));
  }
  return b.add({ host, report, kind, now });
}

export async function hostHistory(db: Kysely<Database>, host: string, limit = 100): Promise<{ id: string; kind: string; status: string; received_at: number; body: unknown }[]> {
  const rows = await db.selectFrom("reports").select(["id", "kind", "status", "received_at", "body"]).where("host", "=", host).where("kind", "=", "report").orderBy("received_at", "desc").limit(limit).execute();
  return rows.map((r) => ({ ...r, id: r.id.slice(host.length + 1), body: JSON.parse(r.body) as unknown }));
}
