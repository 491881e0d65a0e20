import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { requireAdmin } from "../auth.js";
import type { ServerContext } from "../context.js";
import { badRequest } from "../errors.js";
import { addRelease, completeRelease, getRelease, listReleases, readFromCache } from "../releases.js";
import { checkChannel } from "../names.js";

/** A manifest with thousands of hosts is a few hundred KiB; 4 MiB leaves room and bounds memory. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

function sequenceParam(raw: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw badRequest("bad-sequence", "a sequence is a whole number");
  return Number(raw);
}

export function releaseRoutes(app: FastifyInstance, ctx: ServerContext): void {
  // The manifest must reach the verifier as the exact bytes that were signed (strict parsing
  // refuses duplicate keys that a generic JSON parser would silently merge): a scope of its own
  // with a text body parser.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(["application/json", "text/plain"], { parseAs: "string", bodyLimit: MAX_MANIFEST_BYTES }, (_req, body, done) => done(null, body));
    scope.post<{ Querystring: { immediate?: string } }>("/api/v1/releases", async (req, reply) => {
      requireAdmin(await ctx.auth(req));
      if (typeof req.body !== "string") throw badRequest("bad-manifest", "send the signed manifest as the request body (application/json)");
      const immediate = req.query.immediate === "1" || req.query.immediate === "true";
      const r = await addRelease(ctx.db, req.body, ctx.trusted, { now: new Date(ctx.now()), immediate, trustDir: ctx.trustDir });
      await ctx.changed(["releases", ...(r.state === "complete" ? [`channel:${r.channel}`] : [])]);
      return reply.code(r.created ? 201 : 200).send(r);
    });
  });
  app.post("/api/v1/releases/import", async (req, reply) => {
    requireAdmin(await ctx.auth(req));
    const b = z.object({ url: z.string().max(2000), immediate: z.boolean().optional() }).strict().safeParse(req.body);
    if (!b.success) throw badRequest("bad-import", "an import is {url, immediate?}: the manifest's URL in a cache");
    const text = await readFromCache(b.data.url, MAX_MANIFEST_BYTES);
    const r = await addRelease(ctx.db, text, ctx.trusted, { now: new Date(ctx.now()), immediate: b.data.immediate, trustDir: ctx.trustDir });
    await ctx.changed(["releases", ...(r.state === "complete" ? [`channel:${r.channel}`] : [])]);
    return reply.code(r.created ? 201 : 200).send(r);
  });
  app.get<{ Querystring: { channel?: string } }>("/api/v1/releases", async (req) => {
    requireAdmin(await ctx.auth(req));
    return { releases: await listReleases(ctx.db, req.query.channel === undefined ? undefined : checkChannel(req.query.channel)) };
  });
  app.get<{ Params: { channel: string; sequence: string } }>("/api/v1/releases/:channel/:sequence", async (req, reply) => {
    requireAdmin(await ctx.auth(req));
    const r = await getRelease(ctx.db, checkChannel(req.params.channel), sequenceParam(req.params.sequence));
    return reply.header("etag", r.etag).type("application/json").send(r.body);
  });
  app.post<{ Params: { channel: string; sequence: string } }>("/api/v1/releases/:channel/:sequence/complete", async (req) => {
    requireAdmin(await ctx.auth(req));
    const channel = checkChannel(req.params.channel);
    await completeRelease(ctx.db, channel, sequenceParam(req.params.sequence));
    await ctx.changed(["releases", `channel:${channel}`]);
    return { channel, sequence: Number(req.params.sequence), state: "complete" };
  });
}
