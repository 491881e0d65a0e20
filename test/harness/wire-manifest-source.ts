import { connect, type Socket } from "node:net";
import { bearerFrom, type ManifestEndpoint } from "../../src/agent/endpoints.js";
import { DEFAULT_LONG_POLL_SECONDS, holdSeconds, LONG_POLL_HEADER, LONG_POLL_SECONDS_HEADER, MAX_MANIFEST_BYTES, SourceUnreachableError, type FetchResult } from "../../src/agent/manifest-source.js";
import { OscdError } from "../../src/core/errors.js";

/**
 * The agent's manifest protocol (src/agent/manifest-source.ts) on a bare kept-alive TCP socket,
 * for the fleet bench's load generator. The real client (node:http, ~600 µs of CPU per
 * long-poll answered and renewed on this machine) made 10,000 simulated agents cost 6–7 s of CPU
 * per wave on the two cores the server also uses, so a wave's latency was the generator's, and
 * a bare server missed the targets by as much as oscd. A real agent reads its answer on a
 * machine of its own. This one sends the same bytes (test/unit/harness/wire-manifest-source.test.ts
 * compares them with what the real client sends) and reads answers with a parser that knows
 * only what the control server sends: a status line, headers and a Content-Length body.
 *
 * Same contract as ManifestSource for http:// endpoints: conditional requests, `?wait=` once the
 * server offered long-polls (the hold it asks for, or 55 s), 204 "none yet", endpoints tried in
 * order, one connection reused from long-poll to long-poll.
 */
export class WireManifestSource {
  private readonly validators = new Map<string, { etag?: string; none?: boolean }>();
  private readonly longPoll = new Map<string, number | undefined>();
  private readonly bearers = new Map<string, string>();
  private readonly targets = new Map<string, URL>();
  private connection: WireConnection | undefined;

  constructor(
    private readonly endpoints: readonly ManifestEndpoint[],
    private readonly opts: { timeoutMs: number; longPollSeconds: number | undefined },
  ) {}

  get longPolling(): boolean {
    const first = this.endpoints[0]?.url;
    return this.opts.longPollSeconds !== 0 && first !== undefined && this.longPoll.has(first);
  }

  close(): void {
    this.connection?.close();
  }

  async fetch(signal?: AbortSignal): Promise<FetchResult> {
    const failures: string[] = [];
    for (const { url, tokenFile } of this.endpoints) {
      if (signal?.aborted) break;
      try {
        return await this.fetchHttp(url, tokenFile, signal);
      } catch (e) {
        if (signal?.aborted) break;
        failures.push(`${url}: ${(e as Error).message}`);
      }
    }
    if (signal?.aborted) throw new OscdError("fetch-aborted", "the fetch was interrupted");
    throw new SourceUnreachableError(failures.join("; "));
  }

  private async fetchHttp(url: string, tokenFile: string | undefined, signal?: AbortSignal): Promise<FetchResult> {
    const v = this.validators.get(url) ?? {};
    const wait = this.opts.longPollSeconds !== 0 && this.longPoll.has(url) && v.etag ? (this.opts.longPollSeconds ?? this.longPoll.get(url) ?? DEFAULT_LONG_POLL_SECONDS) : 0;
    const target = this.target(url);
    const path = wait > 0 ? `${target.pathname}${target.search ? `${target.search}&` : "?"}wait=${Math.round(wait)}` : `${target.pathname}${target.search}`;
    let head = `GET ${path} HTTP/1.1\r\naccept: application/json\r\n`;
    if (v.etag) head += `if-none-match: ${v.etag}\r\n`;
    if (tokenFile) head += `authorization: ${await this.bearer(tokenFile)}\r\n`;
    head += `Host: ${target.host}\r\nConnection: keep-alive\r\n\r\n`;
    if (!this.connection || this.connection.origin !== target.origin || this.connection.closed) {
      this.connection?.close();
      this.connection = new WireConnection(target);
    }
    const res = await this.connection.request(head, this.opts.timeoutMs + wait * 1000, signal);
    if (res.headers.get(LONG_POLL_HEADER) === "1") this.longPoll.set(url, holdSeconds(res.headers.get(LONG_POLL_SECONDS_HEADER)));
    else this.longPoll.delete(url);
    if (res.status === 304) return { kind: v.none ? "none" : "not-modified", url };
    if (res.status === 204) {
      this.validators.set(url, { etag: res.headers.get("etag"), none: true });
      return { kind: "none", url };
    }
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    this.validators.set(url, { etag: res.headers.get("etag") });
    return { kind: "new", text: res.body, url };
  }

  /** Each endpoint's URL parsed once (the real client parses it per request: the same result). */
  private target(url: string): URL {
    let t = this.targets.get(url);
    if (!t) this.targets.set(url, (t = new URL(url)));
    return t;
  }

  /** The token file is read once (the simulated agents' tokens never rotate). */
  private async bearer(file: string): Promise<string> {
    const known = this.bearers.get(file);
    if (known) return known;
    const b = await bearerFrom(file);
    this.bearers.set(file, b);
    return b;
  }
}

export interface WireResponse {
  status: number;
  /** Lower-case names; the last value of a repeated header. */
  headers: Map<string, string>;
  body: string;
}

/** One kept-alive connection, one request at a time. */
class WireConnection {
  readonly origin: string;
  closed = false;
  private readonly socket: Socket;
  private buffered: Buffer | undefined;
  private pending: { resolve(r: WireResponse): void; reject(e: Error): void } | undefined;
  private onAbort: (() => void) | undefined;
  private abortSignal: AbortSignal | undefined;

  constructor(target: URL) {
    if (target.protocol !== "http:") throw new Error(`the wire client speaks http:// only, not ${target.protocol}`);
    this.origin = target.origin;
    this.socket = connect({ host: target.hostname, port: Number(target.port || 80), noDelay: true });
    this.socket.on("data", (chunk: Buffer) => this.data(chunk));
    this.socket.on("timeout", () => this.fail(new Error("no answer in time (timeout)")));
    this.socket.on("error", (e) => this.fail(e));
    this.socket.on("close", () => this.fail(new Error("the connection closed before the whole answer arrived")));
  }

  request(head: string, timeoutMs: number, signal?: AbortSignal): Promise<WireResponse> {
    if (this.pending) return Promise.reject(new Error("a request is already under way on this connection"));
    if (signal && signal !== this.abortSignal) {
      // One listener per signal, not per request: a simulated agent's signal lives as long as it.
      if (this.abortSignal && this.onAbort) this.abortSignal.removeEventListener("abort", this.onAbort);
      this.abortSignal = signal;
      this.onAbort = () => this.fail(new Error("the request was aborted"));
      signal.addEventListener("abort", this.onAbort, { once: true });
    }
    if (signal?.aborted) return Promise.reject(new Error("the request was aborted"));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.setTimeout(timeoutMs);
      this.socket.write(head);
    });
  }

  close(): void {
    this.closed = true;
    if (this.abortSignal && this.onAbort) this.abortSignal.removeEventListener("abort", this.onAbort);
    this.socket.destroy();
  }

  private fail(e: Error): void {
    this.close();
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }

  private data(chunk: Buffer): void {
    const buf = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    const res = parseResponse(buf);
    if (res === "incomplete") {
      if (buf.length > MAX_MANIFEST_BYTES) return this.fail(new Error(`larger than ${MAX_MANIFEST_BYTES} bytes`));
      this.buffered = buf;
      return;
    }
    this.buffered = undefined;
    if (res instanceof Error) return this.fail(res);
    if (res.rest > 0) return this.fail(new Error("bytes after the answer that no request asked for"));
    this.socket.setTimeout(0);
    const p = this.pending;
    this.pending = undefined;
    if (res.response.headers.get("connection") === "close") this.close();
    if (!p) return this.fail(new Error("an answer no request asked for"));
    p.resolve(res.response);
  }
}

const HEAD_END = Buffer.from("\r\n\r\n");

/** An HTTP/1.1 answer with a Content-Length body (or none: 204, 304), from the start of `buf`. */
export function parseResponse(buf: Buffer): { response: WireResponse; rest: number } | "incomplete" | Error {
  const end = buf.indexOf(HEAD_END);
  if (end < 0) return "incomplete";
  const lines = buf.toString("latin1", 0, end).split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  if (!status) return new Error(`not an HTTP answer: ${JSON.stringify((lines[0] ?? "").slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  if (headers.has("transfer-encoding")) return new Error("a chunked answer (the wire client reads Content-Length bodies only)");
  const code = Number(status[1]);
  const length = code === 204 || code === 304 ? 0 : Number(headers.get("content-length") ?? "0");
  if (!Number.isSafeInteger(length) || length < 0) return new Error("a bad Content-Length");
  const start = end + HEAD_END.length;
  if (buf.length < start + length) return "incomplete";
  return { response: { status: code, headers, body: buf.toString("utf8", start, start + length) }, rest: buf.length - start - length };
}

/**
 * A POST as the agent's outbox sends it (src/core/http.ts without a kept-alive pool: a
 * connection of its own, `Connection: close`), headers in the order given, then Host. Resolves
 * with the status and body once the whole answer is in; the connection is closed after it.
 */
export function wirePost(url: string, headers: Record<string, string>, body: string, timeoutMs: number, signal?: AbortSignal): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  if (target.protocol !== "http:") return Promise.reject(new Error(`the wire client speaks http:// only, not ${target.protocol}`));
  const bytes = Buffer.from(body, "utf8");
  let head = `POST ${target.pathname}${target.search} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  head += `content-length: ${bytes.length}\r\nHost: ${target.host}\r\nConnection: close\r\n\r\n`;
  return new Promise((resolve, reject) => {
    let settled = false;
    let buf: Buffer | undefined;
    const socket = connect({ host: target.hostname, port: Number(target.port || 80), noDelay: true });
    const onAbort = () => done(new Error("the request was aborted"));
    const done = (e: Error | undefined, r?: { status: number; body: string }) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      if (e) reject(e);
      else resolve(r as { status: number; body: string });
    };
    if (signal?.aborted) return done(new Error("the request was aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.setTimeout(timeoutMs, () => done(new Error("no answer in time (timeout)")));
    socket.on("error", (e) => done(e));
    socket.on("close", () => done(new Error("the connection closed before the whole answer arrived")));
    socket.on("data", (chunk: Buffer) => {
      buf = buf ? Buffer.concat([buf, chunk]) : chunk;
      const res = parseResponse(buf);
      if (res === "incomplete") return;
      if (res instanceof Error) return done(res);
      done(undefined, { status: res.response.status, body: res.response.body });
    });
    // Not end(): a client that half-closes is one whose request node's server drops unanswered.
    socket.write(head);
    socket.write(bytes);
  });
}
