import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { recorder, whoOf } from "../audit.js";
import { can, createToken, listTokens, PEOPLE_ROLES, requireRole, revokeToken } from "../auth.js";
import type { ServerContext } from "../context.js";
import { badRequest, notFound } from "../errors.js";
import { checkChannel, checkTag } from "../names.js";

const createSchema = z.union([
  z.object({ kind: z.enum(PEOPLE_ROLES), label: z.string().max(200).optional() }).strict(),
  z.object({ kind: z.literal("host"), host: z.string(), tags: z.array(z.string()).max(64).optional(), channel: z.string().optional(), label: z.string().max(200).optional() }).strict(),
]);

export function tokenRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post("/api/v1/tokens", async (req, reply) => {
    const p = await ctx.auth(req);
    requireRole(p, "admin");
    const r = createSchema.safeParse(req.body);
    if (!r.success) throw badRequest("bad-token-request", `a token request is {kind:"admin"|"operator"|"viewer", label?} or {kind:"host", host, tags?, channel?}: ${r.error.issues[0]?.message ?? ""}`);
    const b = r.data;
    const now = ctx.now();
    const record = (id: string) => recorder(whoOf(p, req), "token.create", `token ${id}`, { role: b.kind, host: b.kind === "host" ? b.host : undefined, label: b.label }, now);
    const made =
      b.kind !== "host"
        ? await createToken(ctx.db, { kind: b.kind }, b.label, now, record)
        : await createToken(ctx.db, { kind: "host", host: b.host, tags: b.tags?.map(checkTag), channel: b.channel === undefined ? undefined : checkChannel(b.channel) }, b.label, now, record);
    await ctx.changed(["hosts", "audit"]);
    return reply.code(201).send(made);
  });
  // Who a token is: the dashboard shows only the actions its role may take (the API refuses the rest anyway).
  app.get("/api/v1/whoami", async (req) => {
    const p = await ctx.auth(req);
    return { role: p.kind, tokenId: p.tokenId, label: p.label, host: p.kind === "host" ? p.host : null, can: { read: can(p, "read"), operate: can(p, "operate"), admin: can(p, "admin") } };
  });
  app.get("/api/v1/tokens", async (req) => {
    requireRole(await ctx.auth(req), "admin");
    return { tokens: await listTokens(ctx.db) };
  });
  app.delete<{ Params: { id: string } }>("/api/v1/tokens/:id", async (req) => {
    const p = await ctx.auth(req);
    requireRole(p, "admin");
    const now = ctx.now();
    if (!(await revokeToken(ctx.db, req.params.id, now, undefined, recorder(whoOf(p, req), "token.revoke", `token ${req.params.id.slice(0, 40)}`, null, now)))) throw notFound(`an unrevoked token ${JSON.stringify(req.params.id.slice(0, 40))}`);
    await ctx.changed(["tokens", "audit"]);
    return { revoked: req.params.id };
  });
}
