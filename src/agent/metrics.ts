import type { Server } from "node:http";
import { Counter, Gauge, Registry } from "./prometheus.js";

/**
 * Prometheus metrics with the names comin users know (comin_* → oscd_*) where they mean the
 * same. Own registry: nothing global, no default process metrics unless asked.
 */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly buildInfo = new Gauge({ name: "oscd_build_info", help: "oscd version", labelNames: ["version"], registers: [this.registry] });
  readonly deploymentInfo = new Gauge({ name: "oscd_deployment_info", help: "last deployment: commit and status", labelNames: ["commit_id", "status"], registers: [this.registry] });
  readonly fetchCount = new Counter({ name: "oscd_fetch_count", help: "fetches by remote and status", labelNames: ["remote_name", "status"], registers: [this.registry] });
  readonly needToReboot = new Gauge({ name: "oscd_need_to_reboot", help: "1 when the running system needs a reboot", registers: [this.registry] });
  readonly isSuspended = new Gauge({ name: "oscd_is_suspended", help: "1 when the agent is suspended", registers: [this.registry] });
  readonly heldBack = new Gauge({ name: "oscd_held_back", help: "1 when the newest data is refused (expired, replayed, untrusted, ...)", labelNames: ["reason"], registers: [this.registry] });
  readonly lastFetchFailed = new Gauge({ name: "oscd_last_fetch_failed", help: "1 when the last fetch failed or was refused", registers: [this.registry] });
  readonly lastEvalFailed = new Gauge({ name: "oscd_last_eval_failed", help: "1 when the last evaluation failed", registers: [this.registry] });
  readonly lastBuildFailed = new Gauge({ name: "oscd_last_build_failed", help: "1 when the last build or realisation failed", registers: [this.registry] });
  readonly lastDeploymentFailed = new Gauge({ name: "oscd_last_deployment_failed", help: "1 when the last deployment failed", registers: [this.registry] });
  readonly lastFetchTimestamp = new Gauge({ name: "oscd_last_fetch_timestamp_seconds", help: "time of the last fetch", registers: [this.registry] });
  readonly lastDeploymentTimestamp = new Gauge({ name: "oscd_last_deployment_timestamp_seconds", help: "time of the last deployment", registers: [this.registry] });

  constructor(version: string) {
    this.buildInfo.set({ version }, 1);
    for (const g of [this.needToReboot, this.isSuspended, this.lastFetchFailed, this.lastEvalFailed, this.lastBuildFailed, this.lastDeploymentFailed]) g.set(0);
  }

  async text(): Promise<string> {
    return this.registry.metricsText();
  }

  /** Serves GET /metrics; resolves once listening. */
  async serve(listenAddress: string, port: number): Promise<Server> {
    // From the built-in module, not an ES import: importing node:http builds its namespace,
    // whose getters load undici (fetch, WebSocket…), ~15 MiB of the idle agent's RSS.
    const server = process.getBuiltinModule("node:http").createServer((req, res) => {
      if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
        res.writeHead(404).end();
        return;
      }
      this.text().then(
        (body) => res.writeHead(200, { "content-type": this.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, listenAddress, () => resolve());
    });
    return server;
  }
}

export const nowSeconds = (d: Date) => d.getTime() / 1000;
