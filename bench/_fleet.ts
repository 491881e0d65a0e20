/**
 * What the fleet benches share (fleet.ts: one server on SQLite; fleet-pg.ts: two servers on one
 * PostgreSQL): a database with N host tokens, `oscd server` processes started from the built
 * CLI, simulated agents in processes of their own (test/harness/sim-agents.ts), and the
 * measures: connections held, the server's idle CPU and RSS, and per agent the time from a
 * wave's start to holding the new manifest.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { RELEASE_WITH_VIEWS, serializeManifest, signHostViews, type Manifest } from "../src/manifest/index.js";
import { FLEET_KEY, signedManifest } from "../test/harness/control-server.js";
import { api, favour, prepareFleetDatabase, serverProcess, startOscdServer, type ServerProcess } from "../test/harness/server-process.js";
import { freePort } from "../test/harness/postgres.js";

export { api };
import { epochMs, type SimAgentOptions, type SimAgentSpec } from "../test/harness/sim-agents.js";
import { simAgentProcess, type SimAgentProcess } from "../test/harness/sim-agents-process.js";
import { memoryMiB, percentile, processCpuMs, socketCount } from "./_measure.js";

export const CHANNEL = "main";
export { startOscdServer, type ServerProcess };

/** N host tokens on CHANNEL and an admin token (test/harness/server-process.ts). */
export const prepareDatabase = (spec: string, hosts: readonly string[]) => prepareFleetDatabase(spec, hosts, CHANNEL);
/** Agents per load-generator process. */
export const AGENTS_PER_PROCESS = 2500;

/**
 * The real agent's defaults (src/agent/config.ts): long-polls held as long as the server says
 * (`oscd server --long-poll-seconds`, 55 s by default), backoff from 2 s to 300 s,
 * reports retried every 10 s. It sends no heartbeat: its long-polls tell the server it is alive
 * (src/server/liveness.ts); OSCD_BENCH_HEARTBEAT_SECONDS adds one for a client that does.
 * The fleet starts over up to a minute (5 ms per agent), as machines boot at different times.
 * A "deployment" takes up to 20 s (a real one realises a closure and switches: longer), so a
 * wave's reports arrive over 20 s, each on a connection of its own as the outbox sends them.
 * The manifest client is the agent's requests on a bare socket (`wire`) unless `client` is
 * `agent` (the real node:http client, ten times the load generator's CPU per answer).
 */
export function agentOptions(n: number, client: SimAgentOptions["client"] = "wire"): SimAgentOptions {
  return { channel: CHANNEL, client, heartbeatSeconds: Number(process.env.OSCD_BENCH_HEARTBEAT_SECONDS ?? 0), deployMsMax: Number(process.env.OSCD_BENCH_DEPLOY_MS ?? 20_000), startSpreadMs: Math.min(60_000, n * 5), backoff: { initial: 2, max: 300 }, reportRetrySeconds: 10 };
}

export function hostNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `h${String(i).padStart(5, "0")}`);
}


export function release(sequence: number, hosts: readonly string[]): Manifest {
  return signedManifest(CHANNEL, sequence, hosts);
}

/** OSCD_BENCH_WHOLE_MANIFESTS=1: upload no host views, so every agent is served the whole manifest. */
export const WITH_VIEWS = process.env.OSCD_BENCH_WHOLE_MANIFESTS !== "1";

/**
 * Uploads a release with every host's signed view, as `oscd publish --server` does
 * (`immediate`: served to every host at once); throws unless accepted. Returns milliseconds.
 */
export async function uploadRelease(base: string, admin: string, m: Manifest, immediate: boolean): Promise<number> {
  const t0 = performance.now();
  const views = WITH_VIEWS ? signHostViews(m, FLEET_KEY).map(serializeManifest) : undefined;
  const res = await fetch(`${base}/api/v1/releases${immediate ? "?immediate=1" : ""}`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": views ? RELEASE_WITH_VIEWS : "application/json" },
    body: views ? JSON.stringify({ manifest: serializeManifest(m), views }) : serializeManifest(m),
  });
  if (res.status !== 201) throw new Error(`release #${m.sequence} refused: ${res.status} ${(await res.text()).slice(0, 300)}`);
  await res.arrayBuffer();
  return performance.now() - t0;
}

/** Requests answered so far by route and status (/metrics), e.g. `GET /api/v1/channels/:channel/manifest 304`. */
export async function requestCounts(base: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^oscd_http_requests_total\{method="([A-Z]+)",route="([^"]*)",status="(\d+)"\} (\d+)/gm)) out.set(`${m[1]} ${m[2]} ${m[3]}`, Number(m[4]));
  return out;
}

/** What was answered between two counts, per second, busiest first. */
export function requestRates(before: Map<string, number>, after: Map<string, number>, seconds: number): string {
  return [...after]
    .map(([k, v]) => [k, (v - (before.get(k) ?? 0)) / seconds] as const)
    .filter(([k, r]) => r > 0 && !k.includes("/metrics"))
    .sort((a, b) => b[1] - a[1])
    .map(([k, r]) => `${k.replace("/api/v1/", "")} ${r.toFixed(1)}/s`)
    .join(", ");
}

/** A server's wake-ups so far (/metrics): seconds spent answering woken long-polls, and how many it answered. */
export async function wakeTotals(base: string): Promise<{ seconds: number; answered: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return { seconds: num(/^oscd_long_poll_wake_seconds_sum ([\d.e+-]+)/m), answered: num(/^oscd_long_polls_woken_total (\d+)/m) };
}

/**
 * The servers' own part of a wave, between two readings of wakeTotals: per server, the time
 * from the change notice to its last woken long-poll answered, and how many it answered. The
 * agents' latency adds the load generator's time to read those answers on the same cores.
 */
export function wakeSummary(before: readonly { seconds: number; answered: number }[], after: readonly { seconds: number; answered: number }[]): string {
  return after.map((a, i) => `server ${i + 1} answered ${a.answered - (before[i]?.answered ?? 0)} in ${Math.round((a.seconds - (before[i]?.seconds ?? 0)) * 1000)} ms`).join(", ");
}

/** The server's own count of long-polls it holds (/metrics). */
export async function waitingCount(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^oscd_long_polls_waiting (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** Every simulated agent, in processes of AGENTS_PER_PROCESS, and what they received. */
export class Fleet {
  readonly received = new Map<number, Map<string, number>>();
  readonly acked = new Map<number, Map<string, { id: string; created: number; duplicates: number }>>();
  private readonly procs: SimAgentProcess[] = [];

  constructor(
    specs: SimAgentSpec[],
    options: SimAgentOptions,
  ) {
    for (let i = 0; i < specs.length; i += AGENTS_PER_PROCESS) {
      this.procs.push(
        simAgentProcess(specs.slice(i, i + AGENTS_PER_PROCESS), options, {
          received: (s, host, at) => {
            let m = this.received.get(s);
            if (!m) this.received.set(s, (m = new Map()));
            if (!m.has(host)) m.set(host, at);
          },
          acked: (s, host, id, created) => {
            let m = this.acked.get(s);
            if (!m) this.acked.set(s, (m = new Map()));
            const a = m.get(host);
            if (!a) m.set(host, { id, created: created ? 1 : 0, duplicates: created ? 0 : 1 });
            else if (created) a.created++;
            else a.duplicates++;
          },
        }),
      );
    }
  }

  get pids(): number[] {
    return this.procs.map((p) => p.child.pid as number);
  }

  async status(): Promise<{ holding: number; errors: number; errorSamples: string[] }> {
    const all = await Promise.all(this.procs.map((p) => p.status()));
    return { holding: all.reduce((a, s) => a + s.holding, 0), errors: all.reduce((a, s) => a + s.errors, 0), errorSamples: all.flatMap((s) => s.errorSamples).slice(0, 5) };
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
  }
}

/**
 * Waits until the servers hold `n` long-polls and every agent got `sequence`, printing progress
 * every 10 s (a fleet that cannot connect shows why: the agents' errors).
 */
export async function connected(fleet: Fleet, servers: readonly string[], n: number, sequence: number, timeoutMs = 600_000): Promise<number> {
  let last = performance.now();
  return until(`${n} long-polls held`, timeoutMs, async () => {
    const held = (await Promise.all(servers.map((u) => waitingCount(u).catch(() => 0)))).reduce((a, b) => a + b, 0);
    const got = fleet.received.get(sequence)?.size ?? 0;
    if (performance.now() - last > 10_000) {
      last = performance.now();
      const st = await fleet.status();
      console.log(`  … ${held} long-polls held, ${got} agents got #${sequence}, ${st.errors} errors${st.errors ? ` (e.g. ${st.errorSamples.slice(0, 2).join(" | ")})` : ""}`);
    }
    return held >= n && got >= n;
  }, 2000);
}

export async function until(what: string, timeoutMs: number, f: () => Promise<boolean> | boolean, everyMs = 250): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await f()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface WaveResult {
  /** Milliseconds from the start to each agent holding the new manifest. */
  latencies: number[];
  /** CPU milliseconds the servers and the load generators spent from the start until the last agent held it. */
  serverCpuMs: number;
  agentsCpuMs: number;
  missing: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * Starts a wave with `start` (a rollout or an immediate release) and waits until every agent in
 * `hosts` holds `sequence` (or `timeoutMs` passes: the rest count as missing).
 */
export async function wave(fleet: Fleet, servers: readonly number[], hosts: readonly string[], sequence: number, start: () => Promise<void>, timeoutMs = 60_000): Promise<WaveResult> {
  // A server killed during the wave counts what it spent until then.
  const last = new Map<number, number>();
  const cpu = (pids: readonly number[]) =>
    pids.reduce((a, p) => {
      try {
        last.set(p, processCpuMs(p));
      } catch {
        // gone: its last reading stands
      }
      return a + (last.get(p) ?? 0);
    }, 0);
  const s0 = cpu(servers);
  const a0 = cpu(fleet.pids);
  const t0 = epochMs();
  await start();
  const got = () => fleet.received.get(sequence) ?? new Map<string, number>();
  await until(`every agent to hold #${sequence}`, timeoutMs, () => hosts.every((h) => got().has(h)), 50).catch(() => undefined);
  const serverCpuMs = cpu(servers) - s0;
  const agentsCpuMs = cpu(fleet.pids) - a0;
  const m = got();
  const latencies = hosts.filter((h) => m.has(h)).map((h) => (m.get(h) as number) - t0);
  return { latencies, serverCpuMs, agentsCpuMs, missing: hosts.length - latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies) };
}

/**
 * What reading a large rollout costs a server, as `oscd rollout start --watch` and the dashboard
 * do on every change: `path` asked `times` times, the median wall time and the server's CPU.
 */
export async function readCost(base: string, token: string, pid: number, path: string, times = 5): Promise<{ wallMs: number; cpuMs: number; mb: number }> {
  const walls: number[] = [];
  const cpus: number[] = [];
  let bytes = 0;
  for (let i = 0; i < times; i++) {
    const c0 = processCpuMs(pid);
    const t0 = performance.now();
    const r = await api(base, token, "GET", path);
    walls.push(performance.now() - t0);
    cpus.push(processCpuMs(pid) - c0);
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text.slice(0, 200)}`);
    bytes = r.text.length;
  }
  return { wallMs: percentile(walls, 50), cpuMs: percentile(cpus, 50), mb: bytes / 1e6 };
}

/** A server's CPU (% of one core) and RSS over `seconds` of idling. */
export async function idle(pid: number, seconds: number): Promise<{ cpuPercent: number; rssMiB: number; peakMiB: number; sockets: number }> {
  const c0 = processCpuMs(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = processCpuMs(pid) - c0;
  const wall = performance.now() - t0;
  const mem = memoryMiB(pid);
  return { cpuPercent: (cpu / wall) * 100, rssMiB: mem.rss, peakMiB: mem.peak, sockets: socketCount(pid) };
}

export function ms(x: number): string {
  return Number.isFinite(x) ? `${Math.round(x)} ms` : "-";
}

/** The baseline server (bench/_bare-longpoll.ts) in a process of its own, holding long-polls `hold` seconds. */
export async function startBareServer(hold: number): Promise<ServerProcess> {
  const port = await freePort();
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  const child = spawn(process.execPath, ["--import", tsx, fileURLToPath(new URL("./_bare-longpoll.ts", import.meta.url)), String(port), String(hold)], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", () => resolve());
    child.once("exit", (code) => reject(new Error(`the baseline server exited ${code}`)));
  });
  return serverProcess(child, `http://127.0.0.1:${port}`, exited);
}

export interface BaselineResult {
  cpuPercent: number;
  rssMiB: number;
  ratePerSecond: number;
  wave: WaveResult;
}

/**
 * The same agents against the baseline server: connected, idle for `idleSeconds`, then one
 * release answered to every held long-poll at once (as an immediate release).
 */
export async function baseline(specs: SimAgentSpec[], options: SimAgentOptions, hold: number, idleSeconds: number): Promise<BaselineResult> {
  const bare = await startBareServer(hold);
  const fleet = new Fleet(
    specs.map((s) => ({ ...s, servers: [bare.url] })),
    options,
  );
  try {
    favour([bare.pid, ...fleet.pids]);
    await until("every agent on the baseline server", 600_000, async () => (fleet.received.get(1)?.size ?? 0) >= specs.length && (await fleet.status()).holding >= specs.length, 1000);
    // Every agent's first long-poll is out; one hold later each has renewed once, whatever its phase.
    const q = await idle(bare.pid, idleSeconds);
    const hosts = specs.map((s) => s.host);
    const w = await wave(fleet, [bare.pid], hosts, 2, async () => {
      await fetch(`${bare.url}/release`, { method: "POST" }).then((r) => r.arrayBuffer());
    });
    return { cpuPercent: q.cpuPercent, rssMiB: q.peakMiB, ratePerSecond: specs.length / hold, wave: w };
  } finally {
    await fleet.stop();
    await bare.stop();
  }
}
