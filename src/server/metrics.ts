import type { Kysely } from "kysely";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Database } from "./db/schema.js";

/**
 * Prometheus metrics on a registry of the server's own (not prom-client's global one, so two
 * servers in one test process do not mix). Fleet gauges are read from the database when
 * scraped, so every process of a PostgreSQL deployment reports the same fleet.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<"method" | "route" | "status">;
  readonly latency: Histogram<"method" | "route">;
  readonly reports: Counter<"kind" | "result">;
  readonly manifests: Counter<"result">;
  readonly waiting: Gauge;
  /** A change's wake-up: from the notice to every long-poll it changed answered (sent to its socket); and held long-polls answered with a new manifest. */
  readonly wakes: Histogram;
  readonly woken: Counter;
  /** Each label set's counter and histogram, looked up once: labelling per request cost a long-poll more than its route. */
  private readonly answered = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();

  constructor(db: Kysely<Database>, now: () => number, offlineAfterMs: number) {
    const registers = [this.registry];
    this.requests = new Counter({ name: "oscd_http_requests_total", help: "HTTP requests answered", labelNames: ["method", "route", "status"], registers });
    this.latency = new Histogram({ name: "oscd_http_request_duration_seconds", help: "HTTP request latency", labelNames: ["method", "route"], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers });
    this.reports = new Counter({ name: "oscd_reports_total", help: "Reports and heartbeats received", labelNames: ["kind", "result"], registers });
    this.manifests = new Counter({ name: "oscd_manifest_requests_total", help: "Manifest requests by answer (200, 304)", labelNames: ["result"], registers });
    this.waiting = new Gauge({ name: "oscd_long_polls_waiting", help: "Manifest long-polls waiting now", registers });
    this.wakes = new Histogram({ name: "oscd_long_poll_wake_seconds", help: "From a change notice to every held long-poll it changed answered", buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10], registers });
    this.woken = new Counter({ name: "oscd_long_polls_woken_total", help: "Held long-polls answered because what their host is served changed", registers });
    new Gauge({
      name: "oscd_hosts",
      help: "Hosts by status (offline: not seen for a while)",
      labelNames: ["status"],
      registers,
      async collect() {
        this.reset();
        const cutoff = now() - offlineAfterMs;
        // Counted by the database: a fleet of 10,000 is a few rows here, not 10,000 objects per scrape.
        const rows = await db
          .selectFrom("hosts")
          .select((eb) => [eb.case().when("last_seen", "<", cutoff).then("offline").else(eb.ref("status")).end().as("s"), eb.fn.countAll<number>().as("n")])
          .groupBy("s")
          .execute();
        for (const r of rows) this.set({ status: String(r.s) }, Number(r.n));
      },
    });
    new Gauge({
      name: "oscd_rollouts",
      help: "Rollouts by state",
      labelNames: ["state"],
      registers,
      async collect() {
        this.reset();
        const rows = await db.selectFrom("rollouts").select((eb) => ["state", eb.fn.countAll<number>().as("n")]).groupBy("state").execute();
        for (const r of rows) this.set({ state: r.state }, Number(r.n));
      },
    });
  }

  /** One request answered: counted by method, route and status, timed by method and route. */
  request(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let a = this.answered.get(key);
    if (!a) {
      if (this.answered.size > 1000) this.answered.clear();
      this.answered.set(key, (a = { count: this.requests.labels(method, route, String(status)), time: this.latency.labels(method, route) }));
    }
    a.count.inc();
    a.time.observe(seconds);
  }
}
