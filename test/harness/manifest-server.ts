import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/**
 * A tiny manifest server for tests and benchmarks, implementing the agent's long-poll contract
 * (src/agent/manifest-source.ts): files under `root`, ETag = sha256 of the content,
 * `If-None-Match` → 304, `?wait=N` holds the request until the file changes or N seconds pass,
 * `X-Oscd-Long-Poll: 1` on every answer when `longPoll` is on. `changed()` wakes held requests
 * (call it after writing a file); `requests` counts what arrived.
 */
export class ManifestServer {
  longPoll = true;
  requests: { url: string; status: number; ifNoneMatch?: string; authorization?: string }[] = [];
  private waiters = new Set<() => void>();
  private stopped = false;
  private server: Server | undefined;

  private constructor(readonly root: string) {}

  static async start(root: string, host = "127.0.0.1", port = 0): Promise<ManifestServer> {
    const s = new ManifestServer(root);
    s.server = createServer((req, res) => {
      void s.handle(req.url ?? "/", req.headers["if-none-match"] as string | undefined, req.headers.authorization).then(({ status, body, etag }) => {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (etag) headers.etag = etag;
        if (s.longPoll) headers["x-oscd-long-poll"] = "1";
        res.writeHead(status, headers).end(body);
      });
    });
    await new Promise<void>((resolve) => s.server!.listen(port, host, () => resolve()));
    return s;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  url(host: string, path: string): string {
    return `http://${host}:${this.port}/${path.replace(/^\//, "")}`;
  }

  changed(): void {
    for (const w of this.waiters) w();
  }

  private async read(path: string): Promise<{ body: string; etag: string } | undefined> {
    try {
      const body = await readFile(join(this.root, path.replace(/\.\./g, "")), "utf8");
      return { body, etag: `"${createHash("sha256").update(body).digest("hex").slice(0, 32)}"` };
    } catch {
      return undefined;
    }
  }

  private async handle(rawUrl: string, ifNoneMatch: string | undefined, authorization: string | undefined): Promise<{ status: number; body?: string; etag?: string }> {
    const u = new URL(rawUrl, "http://x");
    const wait = this.longPoll ? Math.min(Number(u.searchParams.get("wait") ?? "0") || 0, 600) : 0;
    const deadline = Date.now() + wait * 1000;
    for (;;) {
      const f = await this.read(u.pathname);
      const status = !f ? 404 : ifNoneMatch && ifNoneMatch === f.etag ? 304 : 200;
      if (status !== 304 || Date.now() >= deadline || this.stopped) {
        this.requests.push({ url: rawUrl, status, ifNoneMatch, ...(authorization ? { authorization } : {}) });
        return status === 200 ? { status, body: f!.body, etag: f!.etag } : { status, etag: f?.etag };
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.max(0, deadline - Date.now()));
        this.waiters.add(done);
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.changed();
    const closed = new Promise<void>((r) => this.server?.close(() => r()));
    // Clients keep connections alive (and hold long-polls): end them, or close never returns.
    this.server?.closeAllConnections();
    await closed;
  }
}
