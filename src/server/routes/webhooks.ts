import type { FastifyInstance } from "fastify";
import { requireRole } from "../auth.js";
import type { ServerContext } from "../context.js";
import { badRequest, HttpError } from "../errors.js";
import { enqueueJob, getJob, listJobs } from "../jobs.js";
import { bodyDigest, jobsForEvent, verifyGitHubSignature } from "../webhooks.js";

/** GitHub sends up to 25 MB; the events oscd acts on are a few KiB. */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;

export function webhookRoutes(app: FastifyInstance, ctx: ServerContext): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // The signature covers the exact bytes: verify before parsing anything.
    scope.addContentTypeParser("*", { parseAs: "string", bodyLimit: MAX_WEBHOOK_BYTES }, (_req, body, done) => done(null, body));
    scope.post("/api/v1/webhooks/github", async (req, reply) => {
      if (!ctx.webhookSecret) throw new HttpError(404, "webhooks-off", "webhooks are off on this server", "start it with --webhook-secret-file");
      const body = typeof req.body === "string" ? req.body : "";
      const sig = req.headers["x-hub-signature-256"];
      verifyGitHubSignature(ctx.webhookSecret, body, typeof sig === "string" ? sig : undefined);
      const event = req.headers["x-github-event"];
      if (typeof event !== "string" || !/^[a-z_]{1,40}$/.test(event)) throw badRequest("webhook-event", "no X-GitHub-Event header");
      let payload: unknown;
      try {
        payload = JSON.parse(body);
      } catch {
        throw badRequest("bad-json", "the webhook body is not JSON");
      }
      const job = jobsForEvent(event, payload);
      if (!job) return reply.code(202).send({ queued: false, event });
      const delivery = req.headers["x-github-delivery"];
      const input = { ...job.input, delivery: typeof delivery === "string" ? delivery.slice(0, 100) : undefined };
      const q = await enqueueJob(ctx.db, job.kind, input, `github:${bodyDigest(body)}`, ctx.now());
      if (!q.duplicate) await ctx.changed(["jobs"]);
      return reply.code(q.duplicate ? 200 : 201).send({ queued: !q.duplicate, duplicate: q.duplicate, job: q.id, kind: job.kind });
    });
  });
  app.get("/api/v1/jobs", async (req) => {
    requireRole(await ctx.auth(req), "read");
    return { jobs: await listJobs(ctx.db) };
  });
  app.get<{ Params: { id: string } }>("/api/v1/jobs/:id", async (req) => {
    requireRole(await ctx.auth(req), "read");
    const j = await getJob(ctx.db, req.params.id);
    return { ...j, input: undefined };
  });
}
