import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { createToken, listTokens, requireAdmin, revokeToken } from "../auth.js";
import type { ServerContext } from "../context.js";
import { badRequest, notFound } from "../errors.js";
import { checkChannel, checkTag } from "../names.js";

const createSchema = z.union([
  z.object({ kind: z.literal("admin"), label: z.string().max(200).optional() }).strict(),
  z.object({ kind: z.literal("host"), host: z.string(), tags: z.array(z.string()).max(64).optional(), channel: z.string().optional(), label: z.string().max(200).optional() }).strict(),
]);

export function tokenRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post("/api/v1/tokens", async (req, reply) => {
    requireAdmin(await ctx.auth(req));
    const r = createSchema.safeParse(req.body);
    if (!r.success) throw badRequest("bad-token-request", `a token request is {kind:"admin"} or {kind:"host", host, tags?, channel?}: ${r.error.issues[0]?.message ?? ""}`);
    const b = r.data;
    const made =
      b.kind === "admin"
        ? await createToken(ctx.db, { kind: "admin" }, b.label, ctx.now())
        : await createToken(ctx.db, { kind: "host", host: b.host, tags: b.tags?.map(checkTag), channel: b.channel === undefined ? undefined : checkChannel(b.channel) }, b.label, ctx.now());
    await ctx.changed(["hosts"]);
    return reply.code(201).send(made);
  });
  app.get("/api/v1/tokens", async (req) => {
    requireAdmin(await ctx.auth(req));
    return { tokens: await listTokens(ctx.db) };
  });
  app.delete<{ Params: { id: string } }>("/api/v1/tokens/:id", async (req) => {
    requireAdmin(await ctx.auth(req));
    if (!(await revokeToken(ctx.db, req.params.id, ctx.now()))) throw notFound(`an unrevoked token ${JSON.stringify(req.params.id.slice(0, 40))}`);
    await ctx.changed(["tokens"]);
    return { revoked: req.params.id };
  });
}
