import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database, JobTable } from "./db/schema.js";
import { notFound } from "./errors.js";

/**
 * Jobs queued by webhooks, kept in the database with their logs. A job runs once: a worker
 * claims it with a conditional update (`queued` → `running`), so of several server processes
 * exactly one wins it. A successful release job queues its publish job, keyed so that it too
 * is queued once.
 */
export interface JobResult {
  ok: boolean;
  log: string;
  /** A publish job's signed manifest, to become a release (verified like any upload). */
  manifest?: string;
}

export type JobRunner = (job: Pick<JobTable, "id" | "kind"> & { input: Record<string, unknown> }) => Promise<JobResult>;

/** Logs are kept, bounded: the tail matters most (where it failed). */
export const MAX_LOG = 64 * 1024;

export async function enqueueJob(db: Kysely<Database>, kind: string, input: unknown, dedupe: string, now = Date.now()): Promise<{ id: string; duplicate: boolean }> {
  const id = randomBytes(8).toString("hex");
  const r = await db
    .insertInto("jobs")
    .values({ id, kind, input: JSON.stringify(input), state: "queued", log: "", created_at: now, started_at: null, finished_at: null, delivery: dedupe })
    .onConflict((oc) => oc.column("delivery").doNothing())
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0n) === 0) {
    const existing = await db.selectFrom("jobs").select("id").where("delivery", "=", dedupe).executeTakeFirstOrThrow();
    return { id: existing.id, duplicate: true };
  }
  return { id, duplicate: false };
}

/** Longer than any job may run (the CLI runner stops its commands after an hour). */
export const JOB_DEADLINE_MS = 2 * 3_600_000;

/**
 * A job left `running` past the deadline belonged to a server that died mid-job: it is marked
 * failed, not run again (a release or publish half done must be looked at, not repeated blindly).
 */
export async function reapInterruptedJobs(db: Kysely<Database>, now = Date.now()): Promise<number> {
  const stale = await db.selectFrom("jobs").select(["id", "log"]).where("state", "=", "running").where("started_at", "<", now - JOB_DEADLINE_MS).execute();
  for (const j of stale) {
    await db
      .updateTable("jobs")
      .set({ state: "failed", finished_at: now, log: `${j.log}\ninterrupted: the server running it stopped before it finished; nothing was retried` })
      .where("id", "=", j.id)
      .where("state", "=", "running")
      .execute();
  }
  return stale.length;
}

/** Claims and runs the oldest queued job; false when there was none (or another process took it). */
export async function runNextJob(db: Kysely<Database>, runner: JobRunner, onManifest: (text: string, input: Record<string, unknown>) => Promise<string>, now: () => number = Date.now): Promise<boolean> {
  const next = await db.selectFrom("jobs").selectAll().where("state", "=", "queued").orderBy("created_at").limit(1).executeTakeFirst();
  if (!next) return false;
  const claimed = await db.updateTable("jobs").set({ state: "running", started_at: now() }).where("id", "=", next.id).where("state", "=", "queued").executeTakeFirst();
  if (Number(claimed.numUpdatedRows) !== 1) return true;
  const input = JSON.parse(next.input) as Record<string, unknown>;
  let result: JobResult;
  try {
    result = await runner({ id: next.id, kind: next.kind, input });
  } catch (e) {
    result = { ok: false, log: `the job could not run: ${(e as Error).message}` };
  }
  let log = result.log;
  if (result.ok && result.manifest !== undefined) {
    try {
      log += `\n${await onManifest(result.manifest, input)}`;
    } catch (e) {
      result = { ...result, ok: false };
      log += `\nthe published manifest was refused: ${(e as Error).message}`;
    }
  }
  if (log.length > MAX_LOG) log = "…" + log.slice(-MAX_LOG);
  await db.updateTable("jobs").set({ state: result.ok ? "done" : "failed", log, finished_at: now() }).where("id", "=", next.id).execute();
  if (result.ok && next.kind === "release") {
    await enqueueJob(db, "publish", { event: input.event, after: next.id }, `publish-after:${next.id}`, now());
  }
  return true;
}

export async function listJobs(db: Kysely<Database>, limit = 100): Promise<Omit<JobTable, "log" | "input">[]> {
  return db.selectFrom("jobs").select(["id", "kind", "state", "created_at", "started_at", "finished_at", "delivery"]).orderBy("created_at", "desc").limit(limit).execute();
}

export async function getJob(db: Kysely<Database>, id: string): Promise<JobTable> {
  const j = await db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
  if (!j) throw notFound(`job ${JSON.stringify(id.slice(0, 40))}`);
  return j;
}
