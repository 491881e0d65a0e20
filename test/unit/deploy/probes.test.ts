import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseProbe, probeUrl, runProbes } from "../../../src/deploy/probes.js";

let server: Server;
let port = 0;
let hits = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    res.statusCode = req.url === "/ok" ? 200 : req.url === "/flaky" ? (hits % 2 === 0 ? 200 : 503) : 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  port = typeof a === "object" && a ? a.port : 0;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const fast = { attempts: 3, delayMs: 1, timeoutMs: 2000 };

describe("deployer probes", () => {
  it("parse [status=]url and fill in host and address", () => {
    expect(parseProbe("http://{address}:8080/healthz")).toEqual({ url: "http://{address}:8080/healthz", status: 200 });
    expect(parseProbe("204=https://{host}.example.org/")).toEqual({ url: "https://{host}.example.org/", status: 204 });
    expect(() => parseProbe("file:///etc/passwd")).toThrow(/is not \[STATUS=\]http/);
    expect(() => parseProbe("http://a b")).toThrow(/bad-probe|is not/);
    expect(probeUrl({ url: "http://{address}/{host}", status: 200 }, "web1", "fe80::1")).toBe("http://[fe80::1]/web1");
  });

  it("pass, retry until passing, or name each failure of the last attempt", async () => {
    const base = `http://127.0.0.1:${port}`;
    expect(await runProbes([{ url: `${base}/ok`, status: 200 }], "h", "a", fast)).toEqual([]);
    hits = 0;
    const seen: number[] = [];
    expect(await runProbes([{ url: `${base}/flaky`, status: 200 }], "h", "a", fast, (n) => seen.push(n))).toEqual([]);
    expect(seen).toEqual([1, 2]);
    const f = await runProbes([{ url: `${base}/nope`, status: 200 }, { url: "http://127.0.0.1:1/", status: 200 }], "h", "a", { ...fast, attempts: 2 });
    expect(f[0]).toBe(`GET ${base}/nope answered 404, expected 200`);
    expect(f[1]).toMatch(/^GET http:\/\/127\.0\.0\.1:1\/: /);
  });
});
