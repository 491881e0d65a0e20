import type { FastifyInstance } from "fastify";
import { recorder, whoOf, type AuditAction } from "../audit.js";
import { actorOf, requireRole } from "../auth.js";
import type { ServerContext } from "../context.js";
import { badRequest, wholeQuery } from "../errors.js";
import { act, createRollout, getRollout, listRollouts, type RolloutAction } from "../rollouts.js";

const ACTIONS: readonly RolloutAction[] = ["pause", "resume", "promote", "abort"];

export function rolloutRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post("/api/v1/rollouts", async (req, reply) => {
    const p = await ctx.auth(req);
    requireRole(p, "operate");
    const now = ctx.now();
    const r = await createRollout(ctx.db, req.body, now, (x) => recorder(whoOf(p, req), "rollout.start", `rollout ${x.id} of ${x.channel} #${x.sequence}`, { asked: req.body, waves: x.waves }, now));
    await ctx.changed(["rollouts", "audit", ...r.changed]);
    return reply.code(201).send(await getRollout(ctx.db, r.id, ctx.now()));
  });
  /** Newest first, `?limit=` of them (50, at most 200): each a whole view, thousands of hosts in a large fleet. */
  app.get<{ Querystring: { limit?: string } }>("/api/v1/rollouts", async (req) => {
    requireRole(await ctx.auth(req), "read");
    return { rollouts: await listRollouts(ctx.db, wholeQuery(req.query.limit, "limit", "bad-rollouts-query"), ctx.now()) };
  });
  app.get<{ Params: { id: string } }>("/api/v1/rollouts/:id", async (req) => {
    requireRole(await ctx.auth(req), "read");
    return getRollout(ctx.db, req.params.id, ctx.now());
  });
  app.post<{ Params: { id: string; action: string } }>("/api/v1/rollouts/:id/:action", async (req) => {
    const p = await ctx.auth(req);
    requireRole(p, "operate");
    const action = req.params.action as RolloutAction;
    if (!ACTIONS.includes(action)) throw badRequest("bad-action", `a rollout action is one of ${ACTIONS.join(", ")}`);
    const now = ctx.now();
    const record = recorder(whoOf(p, req), `rollout.${action}` as AuditAction, `rollout ${req.params.id.slice(0, 40)}`, null, now);
    await ctx.changed([...(await act(ctx.db, req.params.id, action, now, { by: actorOf(p), record })), "audit"]);
    return getRollout(ctx.db, req.params.id, ctx.now());
  });
}
