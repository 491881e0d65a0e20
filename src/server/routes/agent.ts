import { performance } from "node:perf_hooks";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { requireHost, requireHostOrReader } from "../auth.js";
import type { ServerContext } from "../context.js";
import { badRequest, notFound } from "../errors.js";
import { checkChannel, checkHostName } from "../names.js";
import { parseReport, recordReport } from "../reports.js";
import { markFetchedMany } from "../rollouts.js";
import type { Served } from "../served.js";
import { trustFile } from "../trust.js";

/**
 * The agent's API (the contract of src/agent): its manifest with ETag and long-poll, and its
 * reports and heartbeats. A host token reaches its own host only.
 */
export const LONG_POLL_HEADER = "x-oscd-long-poll";
/**
 * How long the server would like each long-poll held (`oscd server --long-poll-seconds`): agents
 * not configured otherwise ask for that. A renewal costs the server a request; at 10,000 agents,
 * 55 s holds are ~180 requests a second, 240 s holds ~40. The default stays under the 60 s idle
 * timeout common to proxies and load balancers.
 */
export const LONG_POLL_SECONDS_HEADER = "x-oscd-long-poll-seconds";
export const DEFAULT_LONG_POLL_SECONDS = 55;
/** Longest `?wait=` honoured: proxies commonly cut idle requests after a few minutes. */
export const MAX_WAIT_SECONDS = 300;
/**
 * Long-polls one token may hold at once (an agent holds one per channel). Past it, the request
 * is answered at once, without waiting: a leaked or buggy client cannot pin the server's memory.
 */
export const MAX_WAITS_PER_TOKEN = 8;

/**
 * The entity tag of "no release for you yet": a host whose channel has no release, or whose
 * rollout wave has not started, is answered 204 with it, and long-polls with it like any other
 * manifest request (so it hears of its release the moment there is one). Never a real manifest's
 * tag (those are 32 hex digits).
 */
export const NO_RELEASE_ETAG = '"oscd-no-release"';

/** What every manifest answer says: no caching, and that (and for how long) the server holds long-polls. */
function manifestHeaders(reply: FastifyReply, etag: string, holdSeconds: string): FastifyReply {
  return reply.headers({ etag, "cache-control": "no-store", [LONG_POLL_HEADER]: "1", [LONG_POLL_SECONDS_HEADER]: holdSeconds });
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

/** A long-poll whose agent closed the connection: nothing is sent. */
const gone: Served = { channel: "", sequence: -1, etag: "", body: "", bytes: Buffer.alloc(0) };

interface Waiter {
  host: string;
  etag: string;
  finish(s: Served | undefined): void;
}

export function agentRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const hold = String(ctx.longPollSeconds ?? DEFAULT_LONG_POLL_SECONDS);
  const sendManifest = (reply: FastifyReply, s: Served) => manifestHeaders(reply.code(200), s.etag, hold).type("application/json").send(s.bytes);
  const notModified = (reply: FastifyReply, etag: string) => manifestHeaders(reply.code(304), etag, hold).send();
  const noRelease = (reply: FastifyReply) => manifestHeaders(reply.code(204), NO_RELEASE_ETAG, hold).send();
  const waits = new Map<string, number>();
  // Releases this process already recorded as fetched by a host: one write per host and release,
  // and those written together every 100 ms (a wave's start is thousands of them in a second).
  const fetched = new Set<string>();
  const toMark = new Map<string, { channel: string; sequence: number; hosts: string[] }>();
  let marking: NodeJS.Timeout | undefined;
  const mark = async () => {
    marking = undefined;
    const batches = [...toMark.values()];
    toMark.clear();
    for (const b of batches) {
      try {
        if ((await markFetchedMany(ctx.db, b.hosts, b.channel, b.sequence, ctx.now())) > 0) ctx.hostChanged(b.hosts[0] as string, false);
      } catch {
        // Not recorded: the next fetch of these hosts tries again.
        for (const h of b.hosts) fetched.delete(`${h}\u0000${b.channel}\u0000${b.sequence}`);
      }
    }
  };
  app.addHook("onClose", async () => {
    if (marking) clearTimeout(marking);
    await mark();
  });
  const served = (reply: FastifyReply, host: string, s: Served, byHost: boolean): FastifyReply => {
    const key = `${host}\u0000${s.channel}\u0000${s.sequence}`;
    if (byHost && !fetched.has(key)) {
      if (fetched.size > 100_000) fetched.clear();
      fetched.add(key);
      const k = `${s.channel}\u0000${s.sequence}`;
      let b = toMark.get(k);
      if (!b) toMark.set(k, (b = { channel: s.channel, sequence: s.sequence, hosts: [] }));
      b.hosts.push(host);
      marking ??= setTimeout(() => void mark(), 100);
    }
    ctx.metrics.manifests.inc({ result: "200" });
    return sendManifest(reply, s);
  };
  /**
   * Long-polls by channel. One subscription wakes them all: a channel's change is read once
   * (ctx.served) and each waiter whose answer changed is finished from that one read, so a wave
   * of 10,000 hosts costs one database read, not 10,000.
   */
  const waiting = new Map<string, Set<Waiter>>();
  const waking = new Set<string>();
  const again = new Set<string>();
  const wake = async (channel: string): Promise<void> => {
    if (waking.has(channel)) {
      again.add(channel);
      return;
    }
    waking.add(channel);
    const t0 = performance.now();
    let answered = 0;
    try {
      // Every listener of this notice runs first (ServedCache drops the channel's old read).
      await Promise.resolve();
      do {
        again.delete(channel);
        const set = waiting.get(channel);
        if (!set || set.size === 0) break;
        // A failed read leaves the waiters waiting: their timers answer 304, the agents ask again.
        const view = await ctx.served.view(channel).catch(() => undefined);
        if (!view) break;
        for (const w of [...set]) {
          const s = view.get(w.host);
          if (s && s.etag !== w.etag) {
            w.finish(s);
            answered++;
          }
        }
      } while (again.has(channel));
    } finally {
      waking.delete(channel);
      // Only wake-ups that answered someone: an echo of a notice this process already acted on is not one.
      // Timed once the answers are written: each waiter's reply is sent after this loop, as its
      // handler resumes (promise jobs, all run before the next setImmediate).
      if (answered > 0) setImmediate(() => ctx.metrics.wakes.observe((performance.now() - t0) / 1000));
    }
  };
  const unsubscribe = ctx.notifier.subscribe((topic) => {
    if (topic === "*") for (const c of waiting.keys()) void wake(c);
    else if (topic.startsWith("channel:")) void wake(topic.slice("channel:".length));
  });
  app.addHook("onClose", async () => unsubscribe());

  const manifest = async (req: FastifyRequest<{ Params: { channel: string }; Querystring: { wait?: string; host?: string } }>, reply: FastifyReply) => {
    const p = await ctx.auth(req);
    const channel = checkChannel(req.params.channel);
    // People who may read the fleet may look at what any host is served; a host token is that host.
    const host = p.kind === "host" ? p.host : checkHostName(req.query.host);
    requireHostOrReader(p, host);
    if (p.kind === "host") ctx.hostSeen(host);
    const wait = waitSeconds(req.query.wait);
    const inm = req.headers["if-none-match"];
    let current = await ctx.served.get(host, channel);
    const etag = current?.etag ?? NO_RELEASE_ETAG;
    if (!matches(inm, etag)) {
      if (current) return served(reply, host, current, p.kind === "host");
      ctx.metrics.manifests.inc({ result: "204" });
      return noRelease(reply);
    }
    const held = waits.get(p.tokenId) ?? 0;
    if (wait > 0 && held < MAX_WAITS_PER_TOKEN) {
      waits.set(p.tokenId, held + 1);
      ctx.metrics.waiting.inc();
      try {
        current = await new Promise<Served | undefined>((resolve) => {
          let set = waiting.get(channel);
          if (!set) waiting.set(channel, (set = new Set()));
          const waiter: Waiter = {
            host,
            etag,
            finish: (v) => {
              if (!set.delete(waiter)) return;
              if (set.size === 0 && waiting.get(channel) === set) waiting.delete(channel);
              clearTimeout(timer);
              req.raw.off("close", onClose);
              resolve(v);
            },
          };
          set.add(waiter);
          const timer = setTimeout(() => waiter.finish(current), wait * 1000);
          const onClose = () => waiter.finish(gone);
          req.raw.on("close", onClose);
          // A change between the first read and joining the waiters would otherwise wait the
          // whole time (the channel's read is shared, so this costs no database read).
          ctx.served.view(channel).then(
            (v) => {
              const s = v.get(host);
              if (s && s.etag !== etag) waiter.finish(s);
            },
            () => undefined,
          );
        });
      } finally {
        ctx.metrics.waiting.dec();
        const left = (waits.get(p.tokenId) ?? 1) - 1;
        if (left > 0) waits.set(p.tokenId, left);
        else waits.delete(p.tokenId);
      }
      if (current === gone) return reply; // the agent went away
      if (current && current.etag !== etag) {
        // Counted here, whichever answered it: the wake-up, or the look a waiter takes as it joins
        // (a read that began before the change can finish after it).
        ctx.metrics.woken.inc();
        return served(reply, host, current, p.kind === "host");
      }
    }
    ctx.metrics.manifests.inc({ result: "304" });
    return notModified(reply, etag);
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
      const r = await recordReport(ctx.db, host, report, kind, ctx.now(), ctx.reportDriver);
      ctx.metrics.reports.inc({ kind, result: r.duplicate ? "duplicate" : "new" });
      if (!r.duplicate) ctx.hostChanged(host, kind === "report");
      return reply.code(r.duplicate ? 200 : 201).send({ id: report.id, duplicate: r.duplicate });
    });
  }
}
