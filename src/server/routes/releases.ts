import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { recorder, whoOf } from "../audit.js";
import { requireRole } from "../auth.js";
import type { ServerContext } from "../context.js";
import { badRequest } from "../errors.js";
import { addRelease, completeRelease, getRelease, listReleases, readFromCache, type AddedRelease } from "../releases.js";
import { checkChannel } from "../names.js";
import { RELEASE_WITH_VIEWS } from "../../manifest/index.js";

/** A manifest with thousands of hosts is a few hundred KiB; 4 MiB leaves room and bounds memory. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** A manifest and one view per host (about half a KiB each): 10,000 hosts are about 6 MiB. */
export const MAX_RELEASE_UPLOAD_BYTES = 64 * 1024 * 1024;
const envelope = z
  .object({
    manifest: z.string().max(MAX_MANIFEST_BYTES),
    views: z.array(z.string().max(64 * 1024)).max(200_000),
  })
  .strict();

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
    // The manifest with its host views (oscd publish --server): each one a string of the exact
    // bytes that were signed, verified strictly one by one.
    scope.addContentTypeParser(RELEASE_WITH_VIEWS, { parseAs: "string", bodyLimit: MAX_RELEASE_UPLOAD_BYTES }, (_req, body, done) => {
      let raw: unknown;
      try {
        raw = JSON.parse(body as string);
      } catch {
        return done(badRequest("bad-json", "the body is not valid JSON"), undefined);
      }
      const r = envelope.safeParse(raw);
      if (!r.success) return done(badRequest("bad-release-upload", `a release upload is {manifest, views}: ${r.error.issues[0]?.path.join(".") || "(top level)"}: ${r.error.issues[0]?.message ?? "invalid"}`), undefined);
      done(null, r.data);
    });
    scope.post<{ Querystring: { immediate?: string } }>("/api/v1/releases", async (req, reply) => {
      const p = await ctx.auth(req);
      requireRole(p, "operate");
      const body = req.body as string | z.infer<typeof envelope> | undefined;
      const text = typeof body === "string" ? body : body?.manifest;
      if (typeof text !== "string") throw badRequest("bad-manifest", "send the signed manifest as the request body (application/json)");
      const immediate = req.query.immediate === "1" || req.query.immediate === "true";
      const now = ctx.now();
      const record = (a: AddedRelease) => recorder(whoOf(p, req), "release.add", `${a.channel} #${a.sequence}`, { version: a.version, signer: a.signer, state: a.state, immediate, views: a.views }, now);
      const r = await addRelease(ctx.db, text, ctx.trusted, { now: new Date(now), immediate, trustDir: ctx.trustDir, record, views: typeof body === "string" ? undefined : body?.views });
      // New views change what hosts already served this release get (their own view): the channel's answers are read again.
      await ctx.changed(["releases", "audit", ...(r.state === "complete" || r.views > 0 ? [`channel:${r.channel}`] : [])]);
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
