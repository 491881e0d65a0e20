import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManifestSource } from "../../../src/agent/manifest-source.js";
import { ManifestServer } from "../../harness/manifest-server.js";

let dir: string;
let server: ManifestServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-agent-source-"));
  await writeFile(join(dir, "main.json"), '{"v":1}');
  server = await ManifestServer.start(dir);
});
afterAll(() => server.stop());

describe("manifest source", () => {
  it("asks conditionally, long-polls once the server offers it, and gets the new manifest as soon as it is written", async () => {
    const src = new ManifestSource([server.url("127.0.0.1", "main.json")], { timeoutMs: 5000, longPollSeconds: 30 });
    expect(await src.fetch()).toMatchObject({ kind: "new", text: '{"v":1}' });
    expect(src.longPolling).toBe(true);
    const held = src.fetch();
    await new Promise((r) => setTimeout(r, 100));
    await writeFile(join(dir, "main.json"), '{"v":2}');
    server.changed();
    expect(await held).toMatchObject({ kind: "new", text: '{"v":2}' });
    const asked = server.requests.map((r) => [r.url, r.status, Boolean(r.ifNoneMatch)]);
    expect(asked).toEqual([
      ["/main.json", 200, false],
      ["/main.json?wait=30", 200, true],
    ]);
  });

  it("polls plainly (no wait parameter) when the server does not offer long-poll, and gets 304 for an unchanged manifest", async () => {
    server.longPoll = false;
    server.requests = [];
    try {
      const src = new ManifestSource([server.url("127.0.0.1", "main.json")], { timeoutMs: 5000, longPollSeconds: 30 });
      await src.fetch();
      expect(src.longPolling).toBe(false);
      expect(await src.fetch()).toMatchObject({ kind: "not-modified" });
      expect(server.requests.map((r) => [r.url, r.status])).toEqual([
        ["/main.json", 200],
        ["/main.json", 304],
      ]);
    } finally {
      server.longPoll = true;
    }
  });

  it("tries the URLs in order, and names every failure when none answers", async () => {
    const file = pathToFileURL(join(dir, "main.json")).toString();
    const src = new ManifestSource(["http://127.0.0.1:1/main.json", file], { timeoutMs: 2000, longPollSeconds: 0 });
    expect(await src.fetch()).toMatchObject({ kind: "new", url: file });
    expect(await src.fetch()).toMatchObject({ kind: "not-modified" });
    const none = new ManifestSource(["http://user:secret@127.0.0.1:1/main.json", pathToFileURL(join(dir, "missing.json")).toString()], { timeoutMs: 2000, longPollSeconds: 0 });
    const e = (await none.fetch().catch((x: unknown) => x)) as Error & { code: string };
    expect(e.code).toBe("source-unreachable");
    expect(e.message).not.toContain("secret");
    expect(e.message).toMatch(/127\.0\.0\.1:1.*credentials in it.*; file:.*missing\.json: ENOENT/);
  });

  it("never sends credentials written in a URL: the request is not made", async () => {
    server.requests = [];
    const withUser = server.url("127.0.0.1", "main.json").replace("http://", "http://web1:oscd_x_secret@");
    const e = (await new ManifestSource([withUser], { timeoutMs: 2000, longPollSeconds: 0 }).fetch().catch((x: unknown) => x)) as Error;
    expect(e.message).toContain("credentials in it");
    expect(e.message).not.toContain("secret");
    expect(server.requests).toEqual([]);
  });

  it("sends the token from its file as a Bearer header to the server's endpoint only, read again for each request", async () => {
    server.longPoll = false;
    server.requests = [];
    try {
      const tokenFile = join(dir, "token");
      await writeFile(tokenFile, "oscd_a_first\n", { mode: 0o600 });
      const url = server.url("127.0.0.1", "main.json");
      const src = new ManifestSource([{ url, tokenFile }, { url: server.url("127.0.0.1", "main.json?mirror") }], { timeoutMs: 5000, longPollSeconds: 0 });
      await src.fetch();
      await writeFile(tokenFile, "oscd_a_second", { mode: 0o600 });
      src.reset();
      await src.fetch();
      expect(server.requests.map((r) => [r.url, r.authorization])).toEqual([
        ["/main.json", "Bearer oscd_a_first"],
        ["/main.json", "Bearer oscd_a_second"],
      ]);

      // Without its token file the server endpoint fails; the mirror after it is asked without a token.
      server.requests = [];
      const missing = join(dir, "no-token");
      const fallback = new ManifestSource([{ url, tokenFile: missing }, { url: server.url("127.0.0.1", "main.json?mirror") }], { timeoutMs: 5000, longPollSeconds: 0 });
      expect(await fallback.fetch()).toMatchObject({ kind: "new" });
      expect(server.requests).toEqual([{ url: "/main.json?mirror", status: 200, ifNoneMatch: undefined }]);
      const alone = new ManifestSource([{ url, tokenFile: missing }], { timeoutMs: 5000, longPollSeconds: 0 });
      const e = (await alone.fetch().catch((x: unknown) => x)) as Error;
      expect(e.message).toContain(`the token file ${missing} cannot be read (ENOENT)`);

      // A token file's content never appears in an error.
      await writeFile(tokenFile, "two words-secret", { mode: 0o600 });
      const bad = (await new ManifestSource([{ url, tokenFile }], { timeoutMs: 5000, longPollSeconds: 0 }).fetch().catch((x: unknown) => x)) as Error;
      expect(bad.message).toContain("holds more than one word");
      expect(bad.message).not.toContain("secret");
    } finally {
      server.longPoll = true;
    }
  });

  it("renews its long-poll on the connection the last answer came on, and opens a new one when the server closed it", async () => {
    // A server that answers 304 (long-poll ended, nothing new) and counts connections.
    let connections = 0;
    const sockets = new Set<import("node:net").Socket>();
    const srv = createServer((req, res) => {
      if (!req.headers["if-none-match"]) res.writeHead(200, { etag: '"a"', "x-oscd-long-poll": "1" }).end('{"v":1}');
      else res.writeHead(304, { etag: '"a"', "x-oscd-long-poll": "1" }).end();
    });
    srv.on("connection", (s) => {
      connections++;
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    try {
      const port = (srv.address() as { port: number }).port;
      const src = new ManifestSource([`http://127.0.0.1:${port}/main.json`], { timeoutMs: 5000, longPollSeconds: 1 });
      expect(await src.fetch()).toMatchObject({ kind: "new" });
      for (let i = 0; i < 4; i++) expect(await src.fetch()).toMatchObject({ kind: "not-modified" });
      expect(connections).toBe(1);
      // The server (or a proxy) drops idle connections: the next long-poll opens a new one.
      for (const s of sockets) s.destroy();
      await new Promise((r) => setTimeout(r, 50));
      expect(await src.fetch()).toMatchObject({ kind: "not-modified" });
      expect(connections).toBe(2);
    } finally {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });

  it("asks for the hold the server wants unless configured, and ignores a hold that is not sane", async () => {
    let advertised = "240";
    const waits: (string | null)[] = [];
    const srv = createServer((req, res) => {
      waits.push(new URL(req.url ?? "/", "http://x").searchParams.get("wait"));
      const headers = { etag: '"a"', "x-oscd-long-poll": "1", "x-oscd-long-poll-seconds": advertised };
      if (!req.headers["if-none-match"]) res.writeHead(200, headers).end('{"v":1}');
      else res.writeHead(304, headers).end();
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}/main.json`;
      // Each first answer below is 200 (no wait asked), the second a 304 to a long-poll.
      const holds = async (longPollSeconds: number | undefined) => {
        waits.length = 0;
        const src = new ManifestSource([url], { timeoutMs: 1000, longPollSeconds });
        await src.fetch();
        await src.fetch();
        return waits;
      };
      expect(await holds(undefined)).toEqual([null, "240"]);
      // The machine's own setting wins (it knows the proxy in between); 0 never long-polls.
      expect(await holds(30)).toEqual([null, "30"]);
      expect(await holds(0)).toEqual([null, null]);
      for (const bad of ["99999", "0", "-5", "1e3", "abc"]) {
        advertised = bad;
        expect([bad, await holds(undefined)]).toEqual([bad, [null, "55"]]);
      }
    } finally {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });
});
