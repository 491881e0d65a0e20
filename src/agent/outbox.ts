import { randomUUID } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { bearerFrom } from "./endpoints.js";
import { httpFetch } from "../core/http.js";
import type { Logger } from "./log.js";
import { Wake } from "./wake.js";

/**
 * Reports to a control server (the contract the server will implement):
 *
 *   POST {url}/api/v1/reports
 *   Authorization: Bearer <host token, read from tokenFile at each attempt>
 *   Content-Type: application/json
 *   Idempotency-Key: <report id>
 *   body: Report (below)
 *
 * Any 2xx, or 409 ("already stored"), means delivered; the server stores a report once per
 * `id`, so a retry after a lost answer never counts twice. Anything else (network error, 5xx,
 * 401/403 while a token is being fixed) is retried later. Reports wait in a durable on-disk
 * outbox (one file each, written atomically) and go out oldest first; a report leaves the outbox
 * only once the server has acknowledged it, so each arrives exactly once however long the
 * server is away and however often the agent restarts meanwhile.
 */
export const REPORT_SCHEMA = "oscd.report/v1";
export const REPORTS_PATH = "/api/v1/reports";

export interface Report {
  schema: typeof REPORT_SCHEMA;
  /** Unique; the server's idempotency key. */
  id: string;
  host: string;
  /** When it happened (agent clock). */
  at: string;
  /** `drift`: the running system changed outside the agent; `agent`: its own state changed. */
  type: "deployment" | "refusal" | "recovery" | "drift" | "agent";
  source?: string;
  toplevel?: string;
  mode?: string;
  /** deployment: committed | unchanged | failed; recovery: rolled-back | committed | aborted. */
  outcome?: string;
  generation?: number;
  version?: string;
  commit?: string;
  sequence?: number;
  code?: string;
  /** A rollback's cause (`health-failed`, `switch-failed`, …) next to `code` rolled-back. */
  cause?: string;
  message?: string;
  rebootNeeded?: boolean;
  /** drift: what the agent had left running, and what changed it. */
  expected?: string;
  by?: string;
  /** agent: suspended or not, and the manifest source failing (null: fetching fine). */
  suspended?: boolean;
  fetchError?: { source: string; message: string; retryInSeconds?: number } | null;
}

export interface OutboxOptions {
  dir: string;
  url: string;
  /** Other servers of the fleet, tried in order when `url` does not acknowledge a report. */
  fallbackUrls?: readonly string[];
  tokenFile: string;
  retryIntervalSec: number;
  log: Logger;
  onDelivered?: (id: string) => void;
}

export class Outbox {
  private readonly wake = new Wake();
  private stopped = false;

  constructor(private readonly o: OutboxOptions) {}

  /** Stores a report durably; delivery happens in the background. */
  async add(r: Omit<Report, "schema" | "id">): Promise<string> {
    const id = randomUUID();
    const report: Report = { schema: REPORT_SCHEMA, id, ...r };
    await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    // Names sort by time, so delivery keeps the order things happened in.
    const name = `${Date.now().toString().padStart(15, "0")}-${id}.json`;
    const tmp = join(this.o.dir, `.${name}.tmp`);
    const h = await open(tmp, "w", 0o600);
    try {
      await h.writeFile(JSON.stringify(report));
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmp, join(this.o.dir, name));
    this.wake.fire();
    return id;
  }

  async pending(): Promise<string[]> {
    return (await readdir(this.o.dir).catch(() => [] as string[])).filter((n) => n.endsWith(".json") && !n.startsWith(".")).sort();
  }

  stop(): void {
    this.stopped = true;
    this.wake.fire();
  }

  async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let delay = 60_000;
      try {
        for (const name of await this.pending()) {
          if (this.stopped) break;
          await this.deliver(name);
        }
        failures = 0;
      } catch (e) {
        failures++;
        delay = Math.min(10, 2 ** (failures - 1)) * this.o.retryIntervalSec * 1000;
        this.o.log.warn({ event: "report-undelivered", retryInSeconds: Math.round(delay / 1000) }, `reports not delivered: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}`);
      }
      await this.wake.wait(delay);
    }
  }

  /**
   * Sends one report; throws (keeping it) unless a server acknowledged it. With fallback
   * servers, each is tried in order: they share one database and store a report once by its
   * id, so one that reached a server that then failed to answer is not stored twice.
   */
  private async deliver(name: string): Promise<void> {
    const file = join(this.o.dir, name);
    const body = await readFile(file, "utf8");
    const id = (JSON.parse(body) as Report).id;
    const urls = [this.o.url, ...(this.o.fallbackUrls ?? [])];
    let failure: unknown;
    for (const url of urls) {
      try {
        await this.post(url, body, id);
        failure = undefined;
        break;
      } catch (e) {
        failure = e;
      }
    }
    if (failure !== undefined) throw failure;
    await rm(file, { force: true });
    this.o.onDelivered?.(id);
  }

  private async post(url: string, body: string, id: string): Promise<void> {
    const authorization = await bearerFrom(this.o.tokenFile);
    const res = await httpFetch(`${url.replace(/\/+$/, "")}${REPORTS_PATH}`, {
      method: "POST",
      headers: { authorization, "content-type": "application/json", "idempotency-key": id },
      body,
      timeoutMs: 30_000,
      maxBytes: 1024 * 1024,
    });
    if (!((res.status >= 200 && res.status < 300) || res.status === 409)) throw new Error(`the server answered HTTP ${res.status}`);
  }
}
