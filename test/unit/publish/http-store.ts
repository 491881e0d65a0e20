import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A small web server for tests: GET/HEAD/PUT of any path kept in memory, strong ETags, and
 * conditional PUT (`If-None-Match: *` creates only, `If-Match` replaces only that version), as
 * a WebDAV server or an S3 gateway does. Nix can use it as an http binary cache too.
 * Listens on 127.0.0.1 only.
 */
export class HttpStore {
  readonly files = new Map<string, Buffer>();
  readonly log: string[] = [];
  /** When true, every PUT is refused with 403 (a read-only server). */
  readOnly = false;
  /** When true, conditional headers are ignored (a careless server). */
  ignoreConditions = false;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<HttpStore> {
    const holder: { store?: HttpStore } = {};
    const server = createServer((req, res) => void holder.store?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    holder.store = new HttpStore(server, `http://127.0.0.1:${port}`);
    return holder.store;
  }

  static etag(b: Buffer): string {
    return `"${createHash("sha256").update(b).digest("hex").slice(0, 32)}"`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    this.log.push(`${req.method} ${path}`);
    const have = this.files.get(path);
    if (req.method === "GET" || req.method === "HEAD") {
      if (!have) return void res.writeHead(404).end();
      res.writeHead(200, { etag: HttpStore.etag(have), "content-length": have.length });
      return void res.end(req.method === "GET" ? have : undefined);
    }
    if (req.method === "PUT") {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (this.readOnly) return void res.writeHead(403).end();
      if (!this.ignoreConditions) {
        const noneMatch = req.headers["if-none-match"];
        const match = req.headers["if-match"];
        if (noneMatch === "*" && have) return void res.writeHead(412).end();
        if (match !== undefined && (!have || HttpStore.etag(have) !== match)) return void res.writeHead(412).end();
      }
      this.files.set(path, Buffer.concat(chunks));
      return void res.writeHead(have ? 204 : 201).end();
    }
    res.writeHead(405).end();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
