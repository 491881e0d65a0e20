import type { FastifyInstance, FastifyServerOptions } from "fastify";
import { mkdir, readFile } from "node:fs/promises";
import { UsageError } from "../core/errors.js";
import type { PublicKey } from "../nix/index.js";
import { buildApp } from "./app.js";
import { TokenCache, type ServerContext } from "./context.js";
import { Liveness } from "./liveness.js";
import { openDatabase, type ServerDb } from "./db/open.js";
import { OFFLINE_AFTER_MS } from "./fleet-view.js";
import type { NetbootConfig } from "./netboot.js";
import { Metrics } from "./metrics.js";
import { LocalNotifier, PostgresNotifier, type Notifier } from "./notify.js";
import { reapInterruptedJobs, runNextJob, type JobRunner } from "./jobs.js";
import { setPlan } from "./plans.js";
import { addRelease } from "./releases.js";
import { pruneReports } from "./report-retention.js";
import type { RolloutPlan } from "./rollout-plan.js";
import { advanceAll } from "./rollouts.js";
import { ServedCache } from "./served.js";

export interface ServerOptions {
  /** `sqlite:PATH` or `postgres://…`. */
  db: string;
  trusted: readonly PublicKey[];
  /** The channels' trust directory (oscd trust publish --to DIR): release thresholds and revocations. */
  trustDir?: string;
  /** host:port or port; default 127.0.0.1:8420. */
  listen?: string;
  tls?: { certFile: string; keyFile: string };
  logger?: FastifyServerOptions["logger"];
  now?: () => number;
  /** How often running rollouts are looked at (bake times end, reports arrived elsewhere). */
  tickMs?: number;
  webhookSecret?: string;
  /** Serve (and accept PUT into) this binary cache directory under /cache/. */
  cacheDir?: string;
  /** Netboot: MAC addresses, substituters (default: the --cache-dir cache). */
  netboot?: Partial<NetbootConfig>;
  /** Runs webhook jobs; without one, jobs stay queued (and visible) until a server with one runs them. */
  jobRunner?: JobRunner;
  /** Serve a manifest published by a webhook job to every host at once, instead of waiting for a rollout. */
  releaseJobsImmediately?: boolean;
  /** Reports older than this are pruned (each host's last report and every state change stay); undefined: all kept. */
  retainReportsMs?: number;
  /** How often reports are pruned (default hourly, the first time a minute after start). */
  pruneIntervalMs?: number;
  /** Channels' rollout plans (from `--fleet`'s oscd.toml), stored at start. */
  plans?: Record<string, RolloutPlan>;
  /** `/metrics` needs this bearer token; undefined: open (the default). */
  metricsToken?: string;
  /** The long-poll hold agents that leave it to the server ask for (`--long-poll-seconds`, 1–300; default 55). */
  longPollSeconds?: number;
  /** How often hosts seen by their manifest requests are written (default 5 s; tests shorten it). */
  livenessFlushMs?: number;
}

export interface RunningServer {
  app: FastifyInstance;
  ctx: ServerContext;
  url: string;
  database: ServerDb;
  close(): Promise<void>;
}

/** `HOST:PORT`, `[IPv6]:PORT` or `PORT` (on 127.0.0.1). */
export function parseListen(spec: string | undefined): { host: string; port: number } {
  const s = spec ?? "127.0.0.1:8420";
  const m = /^(?:(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+)):)?(\d{1,5})$/.exec(s);
  if (!m || Number(m[3]) > 65535) throw new UsageError(`--listen ${JSON.stringify(s.slice(0, 80))} is not HOST:PORT`, "e.g. --listen 127.0.0.1:8420, --listen 0.0.0.0:8420 or --listen [::1]:8420", "bad-listen");
  return { host: m[1] ?? m[2] ?? "127.0.0.1", port: Number(m[3]) };
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  if (opts.cacheDir) await mkdir(opts.cacheDir, { recursive: true });
  const database = await openDatabase(opts.db);
  let notifier: Notifier;
  if (database.dialect === "postgres" && database.url) {
    const n = new PostgresNotifier(database.url);
    await n.start();
    notifier = n;
  } else notifier = new LocalNotifier();
  const now = opts.now ?? Date.now;
  for (const [channel, plan] of Object.entries(opts.plans ?? {})) await setPlan(database.db, channel, plan, "oscd.toml (oscd server --fleet)", now());
  const tokens = new TokenCache(database.db, notifier, undefined, database.raw);
  const ctx: ServerContext = {
    db: database.db,
    dialect: database.dialect,
    sqlite: database.raw,
    reportDriver: database.raw ? { sqlite: database.raw } : database.pool ? { postgres: database.pool } : undefined,
    notifier,
    served: new ServedCache(database.db, notifier),
    trusted: opts.trusted,
    trustDir: opts.trustDir,
    metrics: new Metrics(database.db, now, OFFLINE_AFTER_MS),
    now,
    webhookSecret: opts.webhookSecret,
    metricsToken: opts.metricsToken,
    longPollSeconds: opts.longPollSeconds,
    cacheDir: opts.cacheDir,
    netboot: {
      macs: opts.netboot?.macs ?? new Map(),
      substituters: opts.netboot?.substituters && opts.netboot.substituters.length > 0 ? opts.netboot.substituters : (opts.cacheDir ? [`file://${opts.cacheDir}`] : []),
      rootDir: opts.netboot?.rootDir,
    },
    changed: async (topics) => {
      for (const t of new Set(topics)) await notifier.publish(t);
    },
    auth: (req) => tokens.get(req.headers.authorization, req.raw.socket),
    hostChanged: () => undefined,
    hostSeen: () => undefined,
  };
  const liveness = new Liveness(database.db, now, () => void ctx.changed(["hosts"]).catch(() => undefined), OFFLINE_AFTER_MS, opts.livenessFlushMs);
  ctx.hostSeen = (host) => liveness.seen(host);
  // Reports arrive by the thousand: the dashboard hears of them at most every 250 ms, and
  // rollouts look at them at most that often, not once per report.
  // Background work (rollout ticks, jobs) has no request to answer: its failures go to the log.
  let warn: (msg: string) => void = () => undefined;
  const failed = (what: string) => (e: unknown) => warn(`${what} failed (will retry): ${String((e as Error)?.message ?? e).split("\n")[0]}`);
  let pending: NodeJS.Timeout | undefined;
  let reportSeen = false;
  let ticking = false;
  // A tick of a 10,000-host rollout reads every report of its release (20–50 ms of CPU on
  // PostgreSQL, as much again in the database); reports arriving by the thousand would tick it
  // four times a second in every server while its agents wait for their answers. After each
  // tick the next waits three times as long as it took: ticks take at most a quarter of the
  // server's time, and a small fleet's ticks (a few ms) are not held back at all.
  let restUntil = 0;
  const tick = async () => {
    if (ticking || performance.now() < restUntil) return;
    ticking = true;
    const t0 = performance.now();
    try {
      await ctx.changed(await advanceAll(database.db, now()));
    } catch (e) {
      failed("advancing rollouts")(e);
    } finally {
      ticking = false;
      restUntil = performance.now() + 3 * (performance.now() - t0);
    }
  };
  ctx.hostChanged = (_host, report) => {
    reportSeen ||= report;
    pending ??= setTimeout(() => {
      pending = undefined;
      const r = reportSeen;
      reportSeen = false;
      void ctx.changed(["hosts"]).catch(failed("announcing reports"));
      if (r) void tick();
    }, 250);
  };
  let working = false;
  const work = async () => {
    if (working || !opts.jobRunner) return;
    working = true;
    try {
      if (await reapInterruptedJobs(database.db, now())) await ctx.changed(["jobs"]);
      while (await runNextJob(database.db, opts.jobRunner, async (text) => {
        const r = await addRelease(database.db, text, opts.trusted, { now: new Date(now()), immediate: opts.releaseJobsImmediately, trustDir: opts.trustDir });
        await ctx.changed(["releases", `channel:${r.channel}`]);
        return `release ${r.channel} #${r.sequence} ${r.created ? "added" : "already known"}${opts.releaseJobsImmediately ? ", served to every host" : ", waiting for a rollout"}`;
      }, now)) await ctx.changed(["jobs"]);
    } catch (e) {
      failed("running jobs")(e);
    } finally {
      working = false;
    }
  };
  const timer = setInterval(() => {
    void tick();
    void work();
  }, opts.tickMs ?? 1000);
  timer.unref();
  let pruning = false;
  const prune = async () => {
    if (pruning || opts.retainReportsMs === undefined) return;
    pruning = true;
    try {
      const r = await pruneReports(database.db, now() - opts.retainReportsMs);
      if (r.heartbeats + r.reports > 0) app.log.info(`pruned ${r.reports} report(s) and ${r.heartbeats} heartbeat(s) older than the retention`);
    } catch (e) {
      failed("pruning reports")(e);
    } finally {
      pruning = false;
    }
  };
  const pruneTimers = opts.retainReportsMs === undefined ? [] : [setTimeout(() => void prune(), Math.min(60_000, opts.pruneIntervalMs ?? 60_000)), setInterval(() => void prune(), opts.pruneIntervalMs ?? 3_600_000)];
  for (const t of pruneTimers) t.unref();

  const https = opts.tls ? { cert: await readFile(opts.tls.certFile), key: await readFile(opts.tls.keyFile) } : undefined;
  const app = buildApp(ctx, { logger: opts.logger, https });
  warn = (msg) => app.log.warn(msg);
  const { host, port } = parseListen(opts.listen);
  let address: string;
  try {
    // Node's default backlog (511) resets connections when a fleet's agents reconnect at once
    // (after a restart); the kernel caps this at net.core.somaxconn.
    address = await app.listen({ host, port, backlog: 4096 });
  } catch (e) {
    clearInterval(timer);
    for (const t of pruneTimers) clearTimeout(t);
    await notifier.close();
    await database.close();
    throw e;
  }
  return {
    app,
    ctx,
    url: address.replace("0.0.0.0", "127.0.0.1"),
    database,
    close: async () => {
      clearInterval(timer);
      for (const t of pruneTimers) clearTimeout(t);
      if (pending) clearTimeout(pending);
      await app.close();
      await liveness.flush();
      ctx.served.close();
      await notifier.close();
      await database.close();
    },
  };
}
