import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { httpFetch } from "../../src/core/http.js";
import { bearerFrom, SERVER_MANIFEST_PATH } from "../../src/agent/endpoints.js";
import { ManifestSource } from "../../src/agent/manifest-source.js";
import { REPORT_SCHEMA, REPORTS_PATH } from "../../src/agent/outbox.js";
import { WireManifestSource, wirePost } from "./wire-manifest-source.js";

/**
 * Lightweight simulated agents for the control server at fleet scale: the real agent's HTTP
 * client and manifest protocol (src/agent's ManifestSource: conditional requests, long-poll
 * once the server offers it, mirrors tried in order) and its report contract (a report per
 * deployment, retried until acknowledged, as the outbox does), and optionally a heartbeat (the
 * real agent sends none: its long-polls say it is alive), without the
 * engine: a "deployment" is a random pause. Many run in one process; a fleet of 10,000 runs in
 * a few processes (sim-agents-process.ts), so the load generator does not share the server's
 * event loop.
 *
 * Every agent lists the servers in its own order (its "home" first), so a server that dies
 * sends its agents to the next one, as a load balancer would.
 */
export interface SimAgentSpec {
  host: string;
  token: string;
  /** Where the process writes the token for the manifest source to read (set by the process). */
  tokenFile?: string;
  /** Server base URLs, preferred first. */
  servers: string[];
}

export interface SimAgentOptions {
  channel: string;
  /** As the agent's `manifest.longPollSeconds`: undefined asks for the hold the server says. */
  longPollSeconds?: number;
  /** 0: no heartbeats. */
  heartbeatSeconds: number;
  /** A deployment takes a random time up to this. */
  deployMsMax: number;
  /** Agents start spread over this long (a fleet does not boot in one millisecond). */
  startSpreadMs: number;
  /** The agent's backoff after failed fetches (config `backoff`): initial · 2^(failures−1), at most max, ±20 %. */
  backoff: { initial: number; max: number };
  /** The outbox's retry interval (config `reports.retryInterval`): doubled per failure, up to 10×. */
  reportRetrySeconds: number;
  /**
   * The HTTP client: the real agent's (`agent`, node:http) or the same requests on bare
   * sockets (`wire`, wire-manifest-source.ts: a third of the CPU, for a generator that shares
   * the server's cores), for manifests and reports alike.
   */
  client?: "agent" | "wire";
}

/** What the process reports: per sequence, when each agent held it (epoch ms), reports acknowledged. */
export interface SimAgentEvents {
  /** An agent received a manifest of `sequence` at `at` (ms since the epoch, sub-ms precision). */
  received(host: string, sequence: number, at: number): void;
  /** A report of `sequence` was acknowledged (`created`: 201, else 200 duplicate). */
  acknowledged(host: string, sequence: number, id: string, created: boolean): void;
  error(what: string): void;
}

export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The manifest's top-level sequence without parsing the body (a full manifest of 10,000 hosts is a megabyte). */
export function sequenceOf(text: string): number {
  const m = /"sequence"\s*:\s*(\d+)/.exec(text);
  return m ? Number(m[1]) : -1;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class SimAgent {
  private stopped = false;
  private readonly abort = new AbortController();
  holding = false;
  sequence = -1;
  fetches = 0;
  private heartbeats = 0;

  constructor(
    readonly spec: SimAgentSpec,
    private readonly opts: SimAgentOptions,
    private readonly events: SimAgentEvents,
  ) {}

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  async run(): Promise<void> {
    // Every server gets the token (they stand for one server behind a load balancer), read from
    // the agent's token file for each request, as the real agent does.
    const endpoints = this.spec.servers.map((s) => ({ url: `${s}${SERVER_MANIFEST_PATH(this.opts.channel)}`, tokenFile: this.spec.tokenFile }));
    // The token file is read once: 10,000 agents re-reading theirs on one machine were a third of
    // the load generator's CPU during a wave (each real machine reads its own, at no cost to the server).
    const bearers = new Map<string, Promise<string>>();
    const bearer = (file: string) => bearers.get(file) ?? (bearers.set(file, bearerFrom(file)).get(file) as Promise<string>);
    const source = this.opts.client === "wire" ? new WireManifestSource(endpoints, { timeoutMs: 30_000, longPollSeconds: this.opts.longPollSeconds }) : new ManifestSource(endpoints, { timeoutMs: 30_000, longPollSeconds: this.opts.longPollSeconds, bearer });
    await sleep(Math.random() * this.opts.startSpreadMs);
    if (this.opts.heartbeatSeconds > 0) void this.heartbeat();
    let failures = 0;
    while (!this.stopped) {
      try {
        this.holding = source.longPolling;
        this.fetches++;
        const r = await source.fetch(this.abort.signal);
        this.holding = false;
        failures = 0;
        if (r.kind === "new") {
          const seq = sequenceOf(r.text);
          this.events.received(this.spec.host, seq, epochMs());
          if (seq > this.sequence) {
            this.sequence = seq;
            void this.deploy(seq);
          }
        }
        if (!source.longPolling) await sleep(1000);
      } catch (e) {
        this.holding = false;
        if (this.stopped) break;
        this.events.error(`fetch: ${(e as Error).message.slice(0, 200)}`);
        // As the agent's manifest watcher: exponential, with jitter, so a fleet that lost its
        // server comes back spread out instead of all at once.
        failures++;
        const { initial, max } = this.opts.backoff;
        await sleep(Math.min(max, initial * 2 ** (failures - 1)) * 1000 * (0.8 + 0.4 * Math.random()));
      }
    }
  }

  /** A pause, then the report, retried against each server in turn until one acknowledges it. */
  private async deploy(sequence: number): Promise<void> {
    await sleep(Math.random() * this.opts.deployMsMax);
    const id = randomUUID();
    const body = JSON.stringify({ schema: REPORT_SCHEMA, id, host: this.spec.host, at: new Date().toISOString(), type: "deployment", outcome: "committed", sequence, generation: sequence });
    await this.post(REPORTS_PATH, id, body, (created) => this.events.acknowledged(this.spec.host, sequence, id, created));
  }

  private async heartbeat(): Promise<void> {
    // The first one after a random part of the period, so the fleet's heartbeats spread out.
    await sleep(Math.random() * this.opts.heartbeatSeconds * 1000);
    while (!this.stopped) {
      const id = `hb-${++this.heartbeats}-${randomUUID()}`;
      await this.post("/api/v1/heartbeats", id, JSON.stringify({ id, host: this.spec.host, status: "heartbeat" }), () => undefined);
      await sleep(this.opts.heartbeatSeconds * 1000 * (0.9 + Math.random() * 0.2));
    }
  }

  private async post(path: string, id: string, body: string, acked: (created: boolean) => void): Promise<void> {
    for (let failures = 0; !this.stopped; ) {
      const server = this.spec.servers[failures % this.spec.servers.length] as string;
      try {
        const headers = { authorization: `Bearer ${this.spec.token}`, "content-type": "application/json", "idempotency-key": id };
        const res =
          this.opts.client === "wire"
            ? await wirePost(`${server}${path}`, headers, body, 30_000, this.abort.signal)
            : await httpFetch(`${server}${path}`, { method: "POST", headers, body, timeoutMs: 30_000, maxBytes: 1024 * 1024, signal: this.abort.signal });
        if ((res.status >= 200 && res.status < 300) || res.status === 409) {
          acked(res.status === 201);
          return;
        }
        this.events.error(`${path}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
      } catch (e) {
        if (this.stopped) return;
        this.events.error(`${path}: ${(e as Error).message.slice(0, 200)}`);
      }
      // As the outbox: the retry interval, doubled per failure up to ten times it.
      failures++;
      await sleep(Math.min(10, 2 ** (failures - 1)) * this.opts.reportRetrySeconds * 1000);
    }
  }
}
