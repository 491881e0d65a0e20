import { randomBytes } from "node:crypto";
import { hostname, userInfo } from "node:os";
import type { FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import { actorOf, type Principal } from "./auth.js";
import type { AuditTable, Database } from "./db/schema.js";
import type { Recorder } from "./recorder.js";

/**
 * Every change people make through the API (releases, rollouts and their steering, plans,
 * tokens) is recorded: who (the token's role, id and label, never its secret), when, what, on
 * what, and through which client (the dashboard and the CLI say so in `X-Oscd-Client`). The
 * record is written in the same transaction as the change it describes, so a change is never
 * made without it.
 */
export type AuditAction =
  | "release.add"
  | "release.import"
  | "release.to-all"
  | "rollout.start"
  | "rollout.pause"
  | "rollout.resume"
  | "rollout.promote"
  | "rollout.abort"
  | "plan.set"
  | "token.create"
  | "token.revoke";

export interface AuditEntry {
  id: string;
  at: number;
  actor: string;
  role: string;
  tokenId: string;
  action: string;
  target: string;
  detail: unknown;
  via: string | null;
}

export type { Recorder };

/** Who made a change: from a request (its token and client), or on the database directly. */
export interface Who {
  actor: string;
  role: string;
  tokenId: string;
  via: string | null;
}

/** `dashboard`, `cli`, or whatever short word a client names itself with (cut to 40 safe characters). */
function viaOf(req: FastifyRequest): string | null {
  const v = req.headers["x-oscd-client"];
  const s = (Array.isArray(v) ? v[0] : v)?.replace(/[^A-Za-z0-9._ /-]/g, "").slice(0, 40);
  return s ? s : null;
}

export function whoOf(p: Principal, req: FastifyRequest): Who {
  return { actor: actorOf(p), role: p.kind, tokenId: p.tokenId, via: viaOf(req) };
}

/** A change made on the database itself (`oscd server token create --db …`): the local user. */
export function localWho(command: string): Who {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container): the uid is all there is.
  }
  return { actor: `${user}@${hostname()} on the database`, role: "local", tokenId: "-", via: command };
}

export function recorder(who: Who, action: AuditAction, target: string, detail: unknown, now: number): Recorder {
  return async (trx) => {
    const row: AuditTable = { id: randomBytes(8).toString("hex"), at: now, actor: who.actor.slice(0, 300), role: who.role, token_id: who.tokenId, action, target: target.slice(0, 300), detail: JSON.stringify(detail ?? null).slice(0, 8000), via: who.via };
    await trx.insertInto("audit").values(row).execute();
  };
}

export async function listAudit(db: Kysely<Database>, opts: { limit?: number; before?: number; target?: string } = {}): Promise<AuditEntry[]> {
  let q = db.selectFrom("audit").selectAll().orderBy("at", "desc").orderBy("id", "desc").limit(Math.min(Math.max(opts.limit ?? 100, 1), 1000));
  if (opts.before !== undefined) q = q.where("at", "<", opts.before);
  if (opts.target !== undefined) q = q.where("target", "=", opts.target);
  const rows = await q.execute();
  return rows.map((r) => ({ id: r.id, at: r.at, actor: r.actor, role: r.role, tokenId: r.token_id, action: r.action, target: r.target, detail: JSON.parse(r.detail) as unknown, via: r.via }));
}
