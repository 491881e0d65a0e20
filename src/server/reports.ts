import type { Kysely } from "kysely";
import { z } from "zod";
import type { Database } from "./db/schema.js";
import { badRequest, forbidden, HttpError } from "./errors.js";
import { checkChannel, checkHostName } from "./names.js";

/**
 * Reports and heartbeats from agents. Each carries an id the agent chose; delivering the same
 * id twice (an outbox retrying after a lost answer) records it once. Ids are kept per host, so
 * one host cannot take another's id and make the server drop that host's real report.
 */
const ID = /^[A-Za-z0-9._:-]{1,128}$/;
const short = z.string().max(400);

export const reportSchema = z
  .object({
    id: z.string().regex(ID, "an id has 1 to 128 letters, digits, '.', '_', ':' and '-'"),
    host: z.string().optional(),
    status: z.string().max(40).optional(),
    outcome: z.string().max(40).optional(),
    channel: z.string().optional(),
    sequence: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    version: short.optional(),
    commit: short.optional(),
    toplevel: short.optional(),
    generation: z.number().int().min(0).optional(),
    booted: short.optional(),
    rebootNeeded: z.boolean().optional(),
    reason: z.string().max(2000).optional(),
    /** The agent's report (src/agent/outbox.ts): deployment | refusal | recovery, with code and message on failure. */
    type: z.string().max(40).optional(),
    code: z.string().max(100).optional(),
    message: z.string().max(2000).optional(),
    deploymentId: short.optional(),
    log: z.string().max(32_000).optional(),
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

export async function recordReport(db: Kysely<Database>, host: string, report: Report, kind: "report" | "heartbeat", now = Date.now()): Promise<Recorded> {
  if (report.host !== undefined && report.host !== host) throw forbidden(`this token is for host ${host}, not ${report.host}`);
  // A refusal (an untrusted, expired or older manifest) means the host did not take the release.
  const status = kind === "heartbeat" ? "heartbeat" : report.type === "refusal" ? "failed" : foldStatus(report.status ?? report.outcome);
  const reason = report.reason ?? report.message ?? report.code;
  const body = JSON.stringify(report);
  return db.transaction().execute(async (trx) => {
    // The agent's reports name a sequence but not a channel: it is the host's.
    let channel = report.channel ?? null;
    if (channel === null && report.sequence !== undefined) {
      const h = await trx.selectFrom("hosts").select("channel").where("name", "=", host).executeTakeFirst();
      channel = h?.channel ?? null;
      if (channel === null) {
        const a = await trx.selectFrom("assignments").select("channel").where("host", "=", host).execute();
        if (a.length === 1) channel = a[0]?.channel ?? null;
      }
    }
    // Only a report that names its channel itself is refused for an unknown release: an agent
    // retries anything but 2xx, so an inferred channel must never wedge its outbox.
    if (report.channel !== undefined && report.sequence !== undefined && kind === "report") {
      const known = await trx.selectFrom("releases").select("sequence").where("channel", "=", report.channel).limit(1).executeTakeFirst();
      if (known) {
        const exact = await trx.selectFrom("releases").select("sequence").where("channel", "=", report.channel).where("sequence", "=", report.sequence).executeTakeFirst();
        if (!exact) throw new HttpError(422, "unknown-release", `channel ${report.channel} has no release #${report.sequence} on this server`);
      }
    }
    const ins = await trx
      .insertInto("reports")
      .values({ id: `${host}/${report.id}`, host, kind, channel, sequence: report.sequence ?? null, status, body, received_at: now })
      .onConflict((oc) => oc.column("id").doNothing())
      .executeTakeFirst();
    const duplicate = Number(ins.numInsertedOrUpdatedRows ?? 0n) === 0;
    if (duplicate) return { duplicate, status };
    const seen =
      kind === "heartbeat"
        ? await trx.updateTable("hosts").set({ last_seen: now }).where("name", "=", host).executeTakeFirst()
        : await trx
            .updateTable("hosts")
            .set({ last_seen: now, state: body, status, reason: status === "failed" ? (reason ?? "failed").slice(0, 400) : null })
            .where("name", "=", host)
            .executeTakeFirst();
    // Hosts get their row with their token; an admin reporting for a host never enrolled makes it.
    if (Number(seen.numUpdatedRows) === 0) {
      await trx
        .insertInto("hosts")
        .values({ name: host, tags: "[]", channel, created_at: now, last_seen: now, state: kind === "report" ? body : null, status: kind === "report" ? status : "new", reason: status === "failed" ? (reason ?? "failed").slice(0, 400) : null })
        .execute();
    }
    return { duplicate, status };
  });
}

export async function hostHistory(db: Kysely<Database>, host: string, limit = 100): Promise<{ id: string; kind: string; status: string; received_at: number; body: unknown }[]> {
  const rows = await db.selectFrom("reports").select(["id", "kind", "status", "received_at", "body"]).where("host", "=", host).where("kind", "=", "report").orderBy("received_at", "desc").limit(limit).execute();
  return rows.map((r) => ({ ...r, id: r.id.slice(host.length + 1), body: JSON.parse(r.body) as unknown }));
}
