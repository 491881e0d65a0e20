import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { recorder, whoOf } from "../audit.js";
import { requireRole } from "../auth.js";
import type { ServerContext } from "../context.js";
import { badRequest } from "../errors.js";
import { addRelease, completeRelease, getRelease, listReleases, readFromCache, type AddedRelease } from "../releases.js";
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
      const p = await ctx.auth(req);
      requireRole(p, "operate");
      if (typeof req.body !== "string") throw badRequest("bad-manifest", "send the signed manifest as the request body (application/json)");
      const immediate = req.query.immediate === "1" || req.query.immediate === "true";
      const now = ctx.now();
      const record = (a: AddedRelease) => recorder(whoOf(p, req), "release.add", `${a.channel} #${a.sequence}`, { version: a.version, signer: a.signer, state: a.state, immediate }, now);
      const r = await addRelease(ctx.db, req.body, ctx.trusted, { now: new Date(now), immediate, trustDir: ctx.trustDir, record });
      await ctx.changed(["releases", "audit", ...(r.state === "complete" ? [`channel:${r.channel}`] : [])]);
      return reply.code(r.created ? 201 : 200).send(r);
    });
  });
  app.post("/api/v1/releases/import", async (req, reply) => {
    const p = await ctx.auth(req);
    requireRole(p, "operate");
    const b = z.object({ url: z.string().max(2000), immediate: z.boolean().optional() }).strict().safeParse(req.body);
    if (!b.success) throw badRequest("bad-import", "an import is {url, immediate?}: the manifest's URL in a cache");
    const text = await readFromCache(b.data.url, MAX_MANIFEST_BYTES);
    const now = ctx.now();
    const record = (a: AddedRelease) => recorder(whoOf(p, req), "release.import", `${a.channel} #${a.sequence}`, { version: a.version, signer: a.signer, state: a.state, url: b.data.url.replace(/\/\/[^/@]*@/, "//") }, now);
    const r = await addRelease(ctx.db, text, ctx.trusted, { now: new Date(now), immediate: b.data.immediate, trustDir: ctx.trustDir, record });
    await ctx.changed(["releases", "audit", ...(r.state === "complete" ? [`channel:${r.channel}`] : [])]);
    return reply.code(r.created ? 201 : 200).send(r);
  });
  app.get<{ Querystring: { channel?: string } }>("/api/v1/releases", async (req) => {
    requireRole(await ctx.auth(req), "read");
    return { releases: await listReleases(ctx.db, req.query.channel === undefined ? undefined : checkChannel(req.query.channel)) };
  });
  app.get<{ Params: { channel: string; sequence: string } }>("/api/v1/releases/:channel/:sequence", async (req, reply) => {
    requireRole(await ctx.auth(req), "read");
    const r = await getRelease(ctx.db, checkChannel(req.params.channel), sequenceParam(req.params.sequence));
    return reply.header("etag", r.etag).type("application/json").send(r.body);
  });
  app.post<{ Params: { channel: string; sequence: string } }>("/api/v1/releases/:channel/:sequence/complete", async (req) => {
    const p = await ctx.auth(req);
    requireRole(p, "operate");
    const channel = checkChannel(req.params.channel);
    const sequence = sequenceParam(req.params.sequence);
    await completeRelease(ctx.db, channel, sequence, recorder(whoOf(p, req), "release.to-all", `${channel} #${sequence}`, null, ctx.now()));
    await ctx.changed(["releases", "audit", `channel:${channel}`]);
    return { channel, sequence: Number(req.params.sequence), state: "complete" };
  });
}
