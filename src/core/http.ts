import type { IncomingHttpHeaders, IncomingMessage } from "node:http";

/**
 * One HTTP(S) request with node:http, for the agent's manifest source and report outbox and the
 * activation engine's narinfo reads (disk-space guard). Not the
 * global fetch: undici (with its WebAssembly HTTP parser) cost ~3-10 MB of the idle agent's
 * memory (bench/agent.ts), and the agent makes one request at a time.
 */
export interface HttpOptions {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** The whole request, redirects included. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** A larger body is an error (the connection is closed, nothing more is read). */
  maxBytes: number;
  /** Redirects followed (GET only); default 5. */
  maxRedirects?: number;
  /** Reuse connections through this pool (default: a new connection per request). */
  keepAlive?: KeepAlive;
}

/**
 * A kept-alive connection for a caller that asks the same server again and again (a manifest
 * source's long-polls): the next long-poll goes out on the connection the last one came back
 * on. (The outbox, which sends a report per deployment, opens one per report: a second
 * connection held by every agent would double what the server holds.) A new connection per request (accept, parse, close)
 * was most of what a renewed long-poll cost the server: with 10,000 agents renewing every
 * 55 s, the difference between a few percent of a core and most of one (bench/fleet.ts).
 * Idle pooled sockets do not keep the process alive.
 */
export class KeepAlive {
  // From the built-in modules, not imported (see `once` below: importing node:http costs every command).
  readonly http = new (process.getBuiltinModule("node:http").Agent)({ keepAlive: true, maxSockets: 2, maxFreeSockets: 1 });
  readonly https = new (process.getBuiltinModule("node:https").Agent)({ keepAlive: true, maxSockets: 2, maxFreeSockets: 1 });

  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export class HttpError extends Error {}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function httpFetch(url: string | URL, opts: HttpOptions): Promise<HttpResponse> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let target = new URL(url);
  let headers = { ...opts.headers };
  for (let hops = 0; ; hops++) {
    const res = await once(target, { ...opts, headers }, signal);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.status) || !location || (opts.method ?? "GET") !== "GET") return res;
    if (hops >= (opts.maxRedirects ?? 5)) throw new HttpError(`more than ${opts.maxRedirects ?? 5} redirects`);
    const next = new URL(location, target);
    if (next.protocol !== "http:" && next.protocol !== "https:") throw new HttpError(`a redirect to ${next.protocol} is not followed`);
    if (target.protocol === "https:" && next.protocol === "http:") throw new HttpError("a redirect from https to http is not followed");
    // Credentials go only where they were meant for, as fetch does.
    if (next.origin !== target.origin) {
      const { authorization: _dropped, ...rest } = headers;
      headers = rest;
    }
    target = next;
  }
}

function once(target: URL, opts: HttpOptions, signal: AbortSignal): Promise<HttpResponse> {
  return new Promise((resolveOnce, rejectOnce) => {
    // The first outcome wins: destroying a response also emits errors of its own.
    let settled = false;
    const resolve = (r: HttpResponse) => {
      if (settled) return;
      settled = true;
      resolveOnce(r);
    };
    const reject = (e: unknown) => {
      if (settled) return;
      settled = true;
      rejectOnce(e);
    };
    if (signal.aborted) return reject(abortError(signal));
    // Taken from the built-in modules when a request is made, not imported: an ES import of
    // node:http builds its module namespace, whose getters load undici (fetch, WebSocket…),
    // which cost every command that merely imports this file ~100 ms of CPU at start.
    const send = target.protocol === "https:" ? process.getBuiltinModule("node:https").request : target.protocol === "http:" ? process.getBuiltinModule("node:http").request : undefined;
    if (!send) return reject(new HttpError(`unsupported protocol ${target.protocol}`));
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body, "utf8");
    const agent = opts.keepAlive ? (target.protocol === "https:" ? opts.keepAlive.https : opts.keepAlive.http) : false;
    const req = send(target, { method: opts.method ?? "GET", headers: { ...opts.headers, ...(body ? { "content-length": String(body.length) } : {}) }, agent, signal });
    req.once("error", (e) => reject(signal.aborted ? abortError(signal) : e));
    req.once("response", (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (REDIRECTS.has(status) || status === 304) {
        res.resume();
        res.once("end", () => resolve({ status, headers: res.headers, body: "" }));
        res.once("error", reject);
        return;
      }
      const declared = Number(res.headers["content-length"] ?? "0");
      if (declared > opts.maxBytes) {
        reject(new HttpError(`larger than ${opts.maxBytes} bytes`));
        return void res.destroy();
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > opts.maxBytes) {
          reject(new HttpError(`larger than ${opts.maxBytes} bytes`));
          return void res.destroy();
        }
        chunks.push(c);
      });
      res.once("end", () => resolve({ status, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.once("error", (e) => reject(signal.aborted ? abortError(signal) : e));
      res.once("aborted", () => reject(signal.aborted ? abortError(signal) : new HttpError("the connection closed before the whole answer arrived")));
    });
    req.end(body);
  });
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === "TimeoutError") return new HttpError("no answer in time (timeout)");
  return new HttpError("the request was aborted");
}

/** A header's single value (node gives arrays for repeated ones). */
export function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}
