import type { Kysely } from "kysely";
import type { Database } from "./db/schema.js";

/**
 * Report retention (`oscd server --retain-reports 90d`): reports grow with every heartbeat and
 * every poll an agent reports. Older than the cutoff, heartbeats go, and so do reports that only
 * repeat the host's previous state; every state change (status, system, generation or refusal
 * code differing from the report before) and each host's last report stay, so a host's history
 * still shows every deployment, rollback and refusal that mattered.
 */

const PAGE = 2000;
const DELETE_CHUNK = 500;

export interface PruneResult {
  heartbeats: number;
  reports: number;
}

/** What makes a report a state change: its status, and what it says the host runs or refused. */
export function stateKey(status: string, body: string): string {
  let b: Record<string, unknown> = {};
  try {
    b = JSON.parse(body) as Record<string, unknown>;
  } catch {
    // an unreadable body compares by status alone
  }
  return JSON.stringify([status, b.toplevel ?? null, b.generation ?? null, b.code ?? null, b.type ?? null]);
}

export async function pruneReports(db: Kysely<Database>, cutoffMs: number): Promise<PruneResult> {
  const hb = await db.deleteFrom("reports").where("kind", "=", "heartbeat").where("received_at", "<", cutoffMs).executeTakeFirst();
  const newest = new Map((await db.selectFrom("reports").select(["host", (eb) => eb.fn.max("received_at").as("at")]).where("kind", "=", "report").groupBy("host").execute()).map((r) => [r.host, Number(r.at)]));
  let doomed: string[] = [];
  let pruned = 0;
  let after: { host: string; at: number; id: string } | undefined;
  let prev: { host: string; key: string } | undefined;
  for (;;) {
    let q = db.selectFrom("reports").select(["id", "host", "status", "body", "received_at"]).where("kind", "=", "report").where("received_at", "<", cutoffMs);
    if (after) {
      const a = after;
      q = q.where((eb) => eb.or([eb("host", ">", a.host), eb.and([eb("host", "=", a.host), eb.or([eb("received_at", ">", a.at), eb.and([eb("received_at", "=", a.at), eb("id", ">", a.id)])])])]));
    }
    const rows = await q.orderBy("host").orderBy("received_at").orderBy("id").limit(PAGE).execute();
    if (rows.length === 0) break;
    for (const r of rows) {
      const key = stateKey(r.status, r.body);
      const change = prev?.host !== r.host || prev.key !== key;
      const last = newest.get(r.host) === Number(r.received_at);
      if (!change && !last) doomed.push(r.id);
      prev = { host: r.host, key };
    }
    const tail = rows[rows.length - 1] as (typeof rows)[number];
    after = { host: tail.host, at: Number(tail.received_at), id: tail.id };
    // Deleting while paging is safe: the next page starts after the last row seen.
    while (doomed.length >= DELETE_CHUNK) {
      pruned += await deleteIds(db, doomed.splice(0, DELETE_CHUNK));
    }
  }
  if (doomed.length > 0) pruned += await deleteIds(db, doomed);
  doomed = [];
  return { heartbeats: Number(hb.numDeletedRows), reports: pruned };
}

async function deleteIds(db: Kysely<Database>, ids: string[]): Promise<number> {
  const r = await db.deleteFrom("reports").where("id", "in", ids).executeTakeFirst();
  return Number(r.numDeletedRows);
}
