import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpFetch } from "../../../src/core/http.js";

/** Two local servers (two origins): `a` redirects to itself and to `b`; `b` records what it got. */
let a: Server;
let b: Server;
let seenByB: IncomingHttpHeaders | undefined;
const url = (s: Server, path: string) => `http://127.0.0.1:${(s.address() as AddressInfo).port}${path}`;

beforeAll(async () => {
  b = createServer((req, res) => {
    seenByB = req.headers;
    res.end("from b");
  });
  a = createServer((req, res) => {
    if (req.url === "/same") return void res.writeHead(302, { location: "/final" }).end();
    if (req.url === "/final") return void res.end(`auth=${req.headers.authorization ?? "none"}`);
    if (req.url === "/other") return void res.writeHead(307, { location: url(b, "/x") }).end();
    if (req.url === "/loop") return void res.writeHead(302, { location: "/loop" }).end();
    if (req.url === "/big") return void res.end("x".repeat(2000));
    if (req.url === "/big-chunked") {
      res.write("x".repeat(600));
      return void res.end("x".repeat(600));
    }
    if (req.url === "/hang") return; // never answers
    if (req.url === "/post" && req.method === "POST") {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => res.writeHead(201).end(`got ${body}`));
      return;
    }
    res.writeHead(404).end();
  });
  for (const s of [a, b]) await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
});

afterAll(async () => {
  for (const s of [a, b]) await new Promise<void>((r) => s.close(() => r()));
});

describe("httpFetch (node:http instead of the global fetch)", () => {
  it("follows a redirect on the same origin with the credentials", async () => {
    const r = await httpFetch(url(a, "/same"), { headers: { authorization: "Basic c2VjcmV0" }, timeoutMs: 5000, maxBytes: 1000 });
    expect(r).toMatchObject({ status: 200, body: "auth=Basic c2VjcmV0" });
  });

  it("drops the credentials on a redirect to another origin", async () => {
    const r = await httpFetch(url(a, "/other"), { headers: { authorization: "Bearer secret", accept: "application/json" }, timeoutMs: 5000, maxBytes: 1000 });
    expect(r.body).toBe("from b");
    expect(seenByB?.authorization).toBeUndefined();
    expect(seenByB?.accept).toBe("application/json");
  });

  it("stops after a bounded number of redirects", async () => {
    await expect(httpFetch(url(a, "/loop"), { timeoutMs: 5000, maxBytes: 1000 })).rejects.toThrow(/more than 5 redirects/);
  });

  it("refuses a body larger than the limit, declared or streamed", async () => {
    await expect(httpFetch(url(a, "/big"), { timeoutMs: 5000, maxBytes: 1000 })).rejects.toThrow(/larger than 1000 bytes/);
    await expect(httpFetch(url(a, "/big-chunked"), { timeoutMs: 5000, maxBytes: 1000 })).rejects.toThrow(/larger than 1000 bytes/);
  });

  it("gives up after the timeout, and when the caller aborts", async () => {
    await expect(httpFetch(url(a, "/hang"), { timeoutMs: 200, maxBytes: 1000 })).rejects.toThrow(/timeout/);
    const abort = new AbortController();
    const pending = httpFetch(url(a, "/hang"), { timeoutMs: 10_000, maxBytes: 1000, signal: abort.signal });
    setTimeout(() => abort.abort(), 50);
    await expect(pending).rejects.toThrow(/aborted/);
  });

  it("posts a body", async () => {
    const r = await httpFetch(url(a, "/post"), { method: "POST", body: "{}", headers: { "content-type": "application/json" }, timeoutMs: 5000, maxBytes: 1000 });
    expect(r).toMatchObject({ status: 201, body: "got {}" });
  });
});
