import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { recorder, whoOf } from "../audit.js";
import { requireRole } from "../auth.js";
import type { ServerContext } from "../context.js";
import { badRequest } from "../errors.js";
import { checkChannel } from "../names.js";
import { getPlan, setPlan } from "../plans.js";
import { planForm, type RolloutPlan } from "../rollout-plan.js";

const putSchema = z.object({ plan: z.unknown(), source: z.string().max(200).optional() }).strict();

/**
 * Channels as operators see them: each channel's newest release, the rollout on it, and its
 * rollout plan (read by the dashboard's Start rollout form, written by `oscd publish --server`).
 */
export function channelRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get("/api/v1/channels", async (req) => {
    requireRole(await ctx.auth(req), "read");
    const releases = await ctx.db.selectFrom("releases").select(["channel", "sequence", "version", "state", "created_at"]).orderBy("sequence", "desc").execute();
    const rollouts = await ctx.db.selectFrom("rollouts").select(["id", "channel", "sequence", "state"]).where("state", "in", ["running", "paused", "halted"]).execute();
    const plans = await ctx.db.selectFrom("channel_plans").selectAll().execute();
    const names = [...new Set([...releases.map((r) => r.channel), ...plans.map((p) => p.channel)])].sort();
    return {
      channels: names.map((channel) => {
        const newest = releases.find((r) => r.channel === channel);
        const complete = releases.find((r) => r.channel === channel && r.state === "complete");
        const plan = plans.find((p) => p.channel === channel);
        return {
          channel,
          newest: newest ? { sequence: newest.sequence, version: newest.version, state: newest.state, createdAt: newest.created_at } : null,
          servedToAll: complete ? { sequence: complete.sequence, version: complete.version } : null,
          rollout: rollouts.find((r) => r.channel === channel) ?? null,
          plan: plan ? (JSON.parse(plan.plan) as RolloutPlan) : null,
          planSource: plan?.source ?? null,
          // The dashboard's Start rollout form, prefilled: the plan's, else the defaults.
          planForm: planForm(plan ? (JSON.parse(plan.plan) as RolloutPlan) : undefined),
        };
      }),
    };
  });
  app.get<{ Params: { channel: string } }>("/api/v1/channels/:channel/plan", async (req) => {
    requireRole(await ctx.auth(req), "read");
    const p = await getPlan(ctx.db, checkChannel(req.params.channel));
    return { channel: req.params.channel, plan: p?.plan ?? null, source: p?.source ?? null, updatedAt: p?.updatedAt ?? null };
  });
  app.put<{ Params: { channel: string } }>("/api/v1/channels/:channel/plan", async (req) => {
    const p = await ctx.auth(req);
    requireRole(p, "operate");
    const channel = checkChannel(req.params.channel);
    const b = putSchema.safeParse(req.body);
    if (!b.success) throw badRequest("bad-plan", "a plan update is {plan: {canary?, waves?, bakeSeconds?, maxFailures?, waveTimeoutSeconds?}, source?}");
    const now = ctx.now();
    const source = b.data.source ?? "the API";
    const saved = await setPlan(ctx.db, channel, b.data.plan, source, now, (plan) => recorder(whoOf(p, req), "plan.set", `channel ${channel}`, { plan, source }, now));
    await ctx.changed(["channels", "audit"]);
    return saved;
  });
}
