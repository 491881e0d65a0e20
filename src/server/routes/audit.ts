import type { FastifyInstance } from "fastify";
import { listAudit } from "../audit.js";
import { requireRole } from "../auth.js";
import type { ServerContext } from "../context.js";
import { wholeQuery } from "../errors.js";

const whole = (raw: string | undefined, what: string): number | undefined => wholeQuery(raw, what, "bad-audit-query");

/** The audit list, newest first (`?limit=`, at most 1000; `?before=` a time in ms, for the next page). */
export function auditRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get<{ Querystring: { limit?: string; before?: string } }>("/api/v1/audit", async (req) => {
    requireRole(await ctx.auth(req), "read");
    return { entries: await listAudit(ctx.db, { limit: whole(req.query.limit, "limit"), before: whole(req.query.before, "before") }) };
  });
}
