import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from "fastify";
import { OscdError } from "../core/errors.js";
import type { ServerContext } from "./context.js";
import { HttpError } from "./errors.js";
import { agentRoutes } from "./routes/agent.js";
import { auditRoutes } from "./routes/audit.js";
import { cacheRoutes } from "./routes/cache.js";
import { channelRoutes } from "./routes/channels.js";
import { dashboardRoutes } from "./routes/dashboard.js";
import { eventRoutes } from "./routes/events.js";
import { hostRoutes } from "./routes/hosts.js";
import { releaseRoutes } from "./routes/releases.js";
import { rolloutRoutes } from "./routes/rollouts.js";
import { tokenRoutes } from "./routes/tokens.js";
import { webhookRoutes } from "./routes/webhooks.js";
import { netbootRoutes } from "./routes/netboot.js";
import { metricsGuard, securityHeaders } from "./http-security.js";

/** Bodies other than manifests (reports, rollouts, tokens) are small; a bigger one is refused (413) before it is read. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface AppOptions {
  logger?: FastifyServerOptions["logger"];
  https?: { cert: Buffer; key: Buffer };
}

/** One-line `{error:{code,message}}` answers for everything, fastify's own refusals included. */
function errorBody(e: unknown): { status: number; code: string; message: string } {
  if (e instanceof HttpError) return { status: e.status, code: e.code, message: e.message };
  const fe = e as Partial<FastifyError>;
  if (fe.code === "FST_ERR_CTP_BODY_TOO_LARGE") return { status: 413, code: "too-large", message: "the request body is too large" };
  if (fe.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return { status: 415, code: "bad-media-type", message: "send application/json" };
  if (fe.code === "FST_ERR_CTP_EMPTY_JSON_BODY" || fe.code === "FST_ERR_CTP_INVALID_JSON_BODY" || (fe.statusCode === 400 && fe.code?.startsWith("FST_"))) {
    return { status: 400, code: "bad-json", message: "the body is not valid JSON" };
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return { status: fe.statusCode, code: "bad-request", message: String(fe.message).split("\n")[0] ?? "bad request" };
  if (e instanceof OscdError && e.exitCode === 2) return { status: 400, code: e.code, message: e.message.split("\n")[0] ?? "" };
  return { status: 503, code: "unavailable", message: "the server could not complete the request (is the database reachable?); nothing was changed, try again" };
}

/** Netboot URLs carry a host token (iPXE cannot send headers): it never reaches a log line. */
export function redactUrl(url: string): string {
  return url.replace(/\/netboot\/token\/[^/?#]+/g, "/netboot/token/<redacted>");
}

function withRedactedUrls(logger: AppOptions["logger"]): AppOptions["logger"] {
  if (!logger) return logger;
  const base = typeof logger === "object" ? logger : {};
  return { ...base, serializers: { ...(base as { serializers?: object }).serializers, req: (req: { method?: string; url?: string }) => ({ method: req.method, url: redactUrl(req.url ?? "") }) } } as AppOptions["logger"];
}

export function buildApp(ctx: ServerContext, opts: AppOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: withRedactedUrls(opts.logger ?? false),
    bodyLimit: MAX_BODY_BYTES,
    // An agent long-polls for minutes; the socket must outlive it.
    requestTimeout: 0,
    keepAliveTimeout: 65_000,
    ...(opts.https ? { https: opts.https } : {}),
  } as FastifyServerOptions) as unknown as FastifyInstance;

  securityHeaders(app);
  app.setErrorHandler((e, req, reply) => {
    const b = errorBody(e);
    if (b.status >= 500) req.log.error({ err: e }, "request failed");
    void reply.code(b.status).type("application/json").send({ error: { code: b.code, message: b.message } });
  });
  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).send({ error: { code: "not-found", message: "no such endpoint" } });
  });

  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    ctx.metrics.request(req.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.get("/healthz", async () => ({ ok: true }));
  const metricsAllowed = metricsGuard(ctx.metricsToken);
  app.get("/metrics", async (req, reply) => {
    metricsAllowed(req);
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });

  agentRoutes(app, ctx);
  tokenRoutes(app, ctx);
  hostRoutes(app, ctx);
  releaseRoutes(app, ctx);
  rolloutRoutes(app, ctx);
  channelRoutes(app, ctx);
  auditRoutes(app, ctx);
  eventRoutes(app, ctx);
  webhookRoutes(app, ctx);
  if (ctx.cacheDir) cacheRoutes(app, ctx, ctx.cacheDir);
  netbootRoutes(app, ctx, ctx.netboot ?? { macs: new Map(), substituters: ctx.cacheDir ? [`file://${ctx.cacheDir}`] : [] });
  dashboardRoutes(app);
  return app;
}
