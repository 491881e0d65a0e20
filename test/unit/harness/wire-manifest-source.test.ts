import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManifestSource, type FetchResult } from "../../../src/agent/manifest-source.js";
import { httpFetch } from "../../../src/core/http.js";
import { parseResponse, WireManifestSource, wirePost } from "../../harness/wire-manifest-source.js";

/**
 * The fleet bench's wire client must be the real agent's manifest client on the wire: the same
 * request bytes for the same answers, and the same reading of those answers. A raw TCP server
 * plays one script of answers to each and records what it was sent.
 */
const ANSWERS = [
  'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\netag: "e1"\r\nx-oscd-long-poll: 1\r\nx-oscd-long-poll-seconds: 240\r\ncontent-length: 15\r\n\r\n{"sequence":1}\n',
  'HTTP/1.1 304 Not Modified\r\netag: "e1"\r\nx-oscd-long-poll: 1\r\nx-oscd-long-poll-seconds: 240\r\n\r\n',
  // The body in two writes, as a large answer arrives.
  ['HTTP/1.1 200 OK\r\netag: "e2"\r\nx-oscd-long-poll: 1\r\ncontent-length: 16\r\n\r\n{"seque', 'nce":22}\n'],
  'HTTP/1.1 204 No Content\r\netag: "none-3"\r\nx-oscd-long-poll: 1\r\n\r\n',
  'HTTP/1.1 304 Not Modified\r\netag: "none-3"\r\nx-oscd-long-poll: 1\r\n\r\n',
  'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\n\r\n{}',
];

let dir: string;
let tokenFile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-wire-"));
  tokenFile = join(dir, "token");
  await writeFile(tokenFile, "s3cret-token\n", { mode: 0o600 });
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** A server answering each request on a connection with the next answer of the script; records request heads. */
async function scripted(): Promise<{ server: Server; url: string; heads: string[] }> {
  const heads: string[] = [];
  let next = 0;
  const server = createServer((socket: Socket) => {
    let buf = "";
    socket.on("data", (c: Buffer) => {
      buf += c.toString("latin1");
      while (buf.includes("\r\n\r\n")) {
        const end = buf.indexOf("\r\n\r\n") + 4;
        heads.push(buf.slice(0, end));
        buf = buf.slice(end);
        const a = ANSWERS[next++];
        if (typeof a === "string") socket.write(a);
        else if (a) {
          socket.write(a[0] as string);
          setTimeout(() => socket.write(a[1] as string), 20);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { server, url: `http://127.0.0.1:${port}/api/v1/channels/main/manifest`, heads };
}

async function play(make: (url: string) => { fetch(): Promise<FetchResult>; longPolling: boolean }): Promise<{ heads: string[]; results: unknown[] }> {
  const s = await scripted();
  try {
    const source = make(s.url);
    const results: unknown[] = [];
    for (let i = 0; i < ANSWERS.length; i++) {
      try {
        const r = await source.fetch();
        results.push({ ...r, url: "u", longPolling: source.longPolling });
      } catch (e) {
        results.push({ error: (e as Error).message.replace(/http:\/\/[^:]+:\d+/g, "URL") });
      }
    }
    if ("close" in source) (source as WireManifestSource).close();
    return { heads: s.heads.map((h) => h.replace(/:\d+\r\n/, ":PORT\r\n")), results };
  } finally {
    s.server.close();
  }
}

describe("wire manifest client", () => {
  it("sends what the real agent's client sends and reads the answers as it does", async () => {
    const real = await play((url) => new ManifestSource([{ url, tokenFile }], { timeoutMs: 5000, longPollSeconds: undefined }));
    const wire = await play((url) => new WireManifestSource([{ url, tokenFile }], { timeoutMs: 5000, longPollSeconds: undefined }));
    // The script's point: the long-poll negotiated from the server's header, validators carried.
    expect(real.heads[1]).toContain("?wait=240 HTTP/1.1");
    expect(real.heads[1]).toContain('if-none-match: "e1"');
    expect(real.heads[0]).toContain("authorization: Bearer s3cret-token");
    expect(wire.heads).toEqual(real.heads);
    expect(wire.results).toEqual(real.results);
    expect(wire.results.map((r) => (r as { kind?: string }).kind ?? "error")).toEqual(["new", "not-modified", "new", "none", "none", "error"]);
  });

  it("goes to the next endpoint when one refuses connections, as the real client does", async () => {
    const s = await scripted();
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const deadUrl = `http://127.0.0.1:${(dead.address() as { port: number }).port}/m`;
    await new Promise<void>((r) => dead.close(() => r()));
    const wire = new WireManifestSource([{ url: deadUrl, tokenFile }, { url: s.url, tokenFile }], { timeoutMs: 5000, longPollSeconds: undefined });
    try {
      const r = await wire.fetch();
      expect(r).toMatchObject({ kind: "new", url: s.url, text: '{"sequence":1}\n' });
    } finally {
      wire.close();
      s.server.close();
    }
  });

  it("posts a report with the bytes the agent's outbox sends, on a connection of its own", async () => {
    const seen: string[] = [];
    const server = createServer((socket) => {
      let buf = "";
      socket.on("data", (c: Buffer) => {
        buf += c.toString("latin1");
        const end = buf.indexOf("\r\n\r\n");
        const length = Number(/content-length: (\d+)/i.exec(buf)?.[1] ?? -1);
        if (end < 0 || buf.length < end + 4 + length) return;
        seen.push(buf);
        socket.end('HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 19\r\nconnection: close\r\n\r\n{"duplicate":false}', () => undefined);
        socket.destroySoon();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/reports`;
    const headers = { authorization: "Bearer t0k", "content-type": "application/json", "idempotency-key": "r-1" };
    const body = JSON.stringify({ id: "r-1", host: "web1", outcome: "committed", note: "é" });
    try {
      const real = await httpFetch(url, { method: "POST", headers, body, timeoutMs: 5000, maxBytes: 1 << 20 });
      const wire = await wirePost(url, headers, body, 5000);
      expect(seen).toHaveLength(2);
      expect(seen[1]).toBe(seen[0]);
      expect(seen[0]).toContain("Connection: close");
      expect(wire).toEqual({ status: real.status, body: real.body });
      expect(wire.status).toBe(201);
    } finally {
      server.close();
    }
  });

  it("gets its answer from a node:http server that answers late (after a database write)", async () => {
    const server = createHttpServer((req, res) => {
      req.resume();
      req.on("end", () => setTimeout(() => res.writeHead(201, { "content-type": "application/json", "content-length": 19 }).end('{"duplicate":false}'), 50));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/reports`;
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => wirePost(url, { "content-type": "application/json", "idempotency-key": `r-${i}` }, "{}", 5000)));
      expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 20 }, () => 201));
    } finally {
      server.close();
    }
  });

  it("parses only whole answers and refuses what it cannot read", () => {
    const full = Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nETag: x\r\n\r\nabc");
    expect(parseResponse(full.subarray(0, 20))).toBe("incomplete");
    expect(parseResponse(full.subarray(0, full.length - 1))).toBe("incomplete");
    const r = parseResponse(full);
    expect(r).toMatchObject({ response: { status: 200, body: "abc" }, rest: 0 });
    expect(r instanceof Error || r === "incomplete" ? undefined : r.response.headers.get("etag")).toBe("x");
    expect(parseResponse(Buffer.from("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc"))).toBeInstanceOf(Error);
    expect(parseResponse(Buffer.from("SSH-2.0-OpenSSH\r\n\r\n"))).toBeInstanceOf(Error);
  });
});
