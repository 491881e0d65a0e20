import type { FastifyInstance } from "fastify";
import { requireRole } from "../auth.js";
import type { ServerContext } from "../context.js";

/**
 * Server-sent events for the dashboard: each change topic as an event (the page reloads what it
 * shows), plus a comment every 15 s so proxies keep the stream open. The page reads it with
 * fetch (not EventSource) so the admin token travels in a header, never in a URL or a log.
 */
export function eventRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get("/api/v1/events", async (req, reply) => {
    requireRole(await ctx.auth(req), "read");
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
    res.write(": connected\n\n");
    const unsubscribe = ctx.notifier.subscribe((topic) => {
      const kind = topic.startsWith("channel:") ? "channel" : topic;
      res.write(`event: change\ndata: ${JSON.stringify({ topic: kind })}\n\n`);
    });
    const ping = setInterval(() => res.write(": ping\n\n"), 15_000);
    req.raw.on("close", () => {
      clearInterval(ping);
      unsubscribe();
    });
  });
}
