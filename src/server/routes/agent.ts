import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { requireHost } from "../auth.js";
import type { ServerContext } from "../context.js";
import { badRequest, notFound } from "../errors.js";
import { checkChannel, checkHostName } from "../names.js";
import { parseReport, recordReport } from "../reports.js";
import type { Served } from "../served.js";
import { trustFile } from "../trust.js";

/**
 * The agent's API (the contract of src/agent): its manifest with ETag and long-poll, and its
 * reports and heartbeats. A host token reaches its own host only.
 */
export const LONG_POLL_HEADER = "x-oscd-long-poll";
/** Longest `?wait=` honoured: proxies commonly cut idle requests after a few minutes. */
export const MAX_WAIT_SECONDS = 300;
/**
 * Long-polls one token may hold at once (an agent holds one per channel). Past it, the request
 * is answered at once, without waiting: a leaked or buggy client cannot pin the server's memory.
 */
export const MAX_WAITS_PER_TOKEN = 8;

function sendManifest(reply: FastifyReply, s: Served): FastifyReply {
  return reply.code(200).header("etag", s.etag).header("cache-control", "no-store").header(LONG_POLL_HEADER, "1").type("application/json").send(s.body);
}

function notModified(reply: FastifyReply, etag: string): FastifyReply {
  return reply.code(304).header("etag", etag).header("cache-control", "no-store").header(LONG_POLL_HEADER, "1").send();
}

/** True when `If-None-Match` lists the etag (or `*`). */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const v = t.trim().replace(/^W\//, "");
    return v === etag || v === "*";
  });
}

function waitSeconds(raw: unknown): number {
  if (raw === undefined) return 0;
  if (typeof raw !== "string" || !/^\d{1,6}$/.test(raw)) throw badRequest("bad-wait", "?wait= takes whole seconds");
  return Math.min(Number(raw), MAX_WAIT_SECONDS);
}

export function agentRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const waits = new Map<string, number>();
  const manifest = async (req: FastifyRequest<{ Params: { channel: string }; Querystring: { wait?: string; host?: string } }>, reply: FastifyReply) => {
    const p = await ctx.auth(req);
    const channel = checkChannel(req.params.channel);
    // An admin may look at what any host is served; a host token is that host.
    const host = p.kind === "host" ? p.host : checkHostName(req.query.host);
    requireHost(p, host);
    const wait = waitSeconds(req.query.wait);
    const inm = req.headers["if-none-match"];
    let current = await ctx.served.get(host, channel);
    if (!current) throw notFound(`a release of channel ${channel} for host ${host}`);
    if (!matches(inm, current.etag)) {
      ctx.metrics.manifests.inc({ result: "200" });
      return sendManifest(reply, current);
    }
    const held = waits.get(p.tokenId) ?? 0;
    if (wait > 0 && held < MAX_WAITS_PER_TOKEN) {
      const etag = current.etag;
      waits.set(p.tokenId, held + 1);
      ctx.metrics.waiting.inc();
      try {
        current = await new Promise<Served | undefined>((resolve) => {
          let done = false;
          let checking = false;
          let again = false;
          const finish = (v: Served | undefined) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            unsubscribe();
            req.raw.off("close", onClose);
            resolve(v);
          };
          const check = () => {
            if (checking) {
              again = true;
              return;
            }
            checking = true;
            ctx.served.get(host, channel).then(
              (s) => {
                checking = false;
                if (s && s.etag !== etag) finish(s);
                else if (again) {
                  again = false;
                  check();
                }
              },
              () => {
                checking = false;
              },
            );
          };
          const unsubscribe = ctx.notifier.subscribe((topic) => {
            if (topic === `channel:${channel}` || topic === "*") check();
          });
          const timer = setTimeout(() => finish(current), wait * 1000);
          const onClose = () => finish(undefined);
          req.raw.on("close", onClose);
          // A change between the first read and subscribing would otherwise wait the whole time.
          check();
        });
      } finally {
        ctx.metrics.waiting.dec();
        const left = (waits.get(p.tokenId) ?? 1) - 1;
        if (left > 0) waits.set(p.tokenId, left);
        else waits.delete(p.tokenId);
      }
      if (!current) return reply; // the agent went away
      if (current.etag !== etag) {
        ctx.metrics.manifests.inc({ result: "200" });
        return sendManifest(reply, current);
      }
    }
    ctx.metrics.manifests.inc({ result: "304" });
    return notModified(reply, current.etag);
  };
  app.get("/api/v1/channels/:channel/manifest", manifest);

  // The trust documents beside the manifest (`trust/` relative to its URL): any valid token
  // reads them; agents verify them themselves (src/trust), so serving them trusts nothing here.
  app.get<{ Params: { channel: string; file: string } }>("/api/v1/channels/:channel/trust/:file", async (req, reply) => {
    await ctx.auth(req);
    checkChannel(req.params.channel);
    const text = ctx.trustDir !== undefined ? await trustFile(ctx.trustDir, req.params.file) : undefined;
    if (text === undefined) throw notFound(`trust document ${req.params.file.slice(0, 80)}`);
    return reply.code(200).header("cache-control", "no-store").type("application/json").send(text);
  });

  for (const kind of ["report", "heartbeat"] as const) {
    app.post(`/api/v1/${kind}s`, async (req, reply) => {
      const p = await ctx.auth(req);
      const report = parseReport(req.body);
      const host = p.kind === "host" ? p.host : checkHostName(report.host);
      requireHost(p, host);
      const r = await recordReport(ctx.db, host, report, kind, ctx.now(), ctx.sqlite);
      ctx.metrics.reports.inc({ kind, result: r.duplicate ? "duplicate" : "new" });
      if (!r.duplicate) ctx.hostChanged(host, kind === "report");
      return reply.code(r.duplicate ? 200 : 201).send({ id: report.id, duplicate: r.duplicate });
    });
  }
}
