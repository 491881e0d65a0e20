import { afterEach, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheFiles } from "../../../src/publish/cache-files.js";
import { openPullRequest } from "../../../src/update/github.js";
import { MAX_NARINFO_BYTES } from "../../../src/nix/index.js";

/**
 * Endless data (TUF 1.0.34): what publish reads back from a cache, and what `oscd update --github`
 * reads from the API, is cut at a cap while reading, before anything is parsed. A server that
 * streams without end, and a FIFO or link left in a file cache, are refused, not waited on.
 */
let server: Server | undefined;
let dir: string | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** An HTTP server whose every answer is 200 and never ends (until the client hangs up). */
async function endless(): Promise<{ url: string; sent: () => number }> {
  let sent = 0;
  server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    const chunk = Buffer.alloc(64 << 10, 0x61);
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) sent += chunk.length;
      if (!res.destroyed) res.once("drain", pump);
    };
    pump();
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  const a = server.address();
  return { url: `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`, sent: () => sent };
}

describe("reading a cache's files, capped", () => {
  it("an http cache streaming a narinfo without end is refused once past the cap", async () => {
    const s = await endless();
    const files = cacheFiles(s.url)!;
    await expect(files.get("x.narinfo", MAX_NARINFO_BYTES)).rejects.toMatchObject({ code: "cache-write-failed", message: expect.stringContaining(`larger than ${MAX_NARINFO_BYTES} bytes`) });
  });

  it("a file cache's narinfo that is a FIFO, a link or too large is refused without hanging", async () => {
    dir = await mkdtemp(join(tmpdir(), "oscd-cache-"));
    execFileSync("mkfifo", [join(dir, "fifo.narinfo")]);
    await writeFile(join(dir, "secret"), "root-only\n");
    await symlink(join(dir, "secret"), join(dir, "link.narinfo"));
    await writeFile(join(dir, "big.narinfo"), Buffer.alloc(MAX_NARINFO_BYTES + 1, 0x61));
    await writeFile(join(dir, "ok.narinfo"), "StorePath: x\n");
    const files = cacheFiles(`file://${dir}`)!;
    await expect(files.get("fifo.narinfo", MAX_NARINFO_BYTES)).rejects.toMatchObject({ code: "cache-write-failed", message: expect.stringContaining("not a regular file") });
    await expect(files.get("link.narinfo", MAX_NARINFO_BYTES)).rejects.toMatchObject({ code: "cache-write-failed", message: expect.stringContaining("ELOOP") });
    await expect(files.get("big.narinfo", MAX_NARINFO_BYTES)).rejects.toMatchObject({ message: expect.stringContaining(`larger than ${MAX_NARINFO_BYTES} bytes`) });
    expect((await files.get("ok.narinfo", MAX_NARINFO_BYTES))?.toString()).toBe("StorePath: x\n");
    expect(await files.get("missing.narinfo", MAX_NARINFO_BYTES)).toBeUndefined();
  });
});

describe("reading the GitHub API, capped", () => {
  it("an answer without end is a typed API error, not a process filling its memory", async () => {
    const s = await endless();
    const t = { repository: "o/r", apiUrl: s.url, token: "t0ken" };
    await expect(openPullRequest(t, { head: "oscd/update", base: "main", title: "t", body: "b", labels: [] })).rejects.toMatchObject({ code: "update-github-failed", message: "GitHub API: listing pull requests: the answer is larger than 4194304 bytes; nothing past that was read" });
    expect(s.sent()).toBeLessThan(64 << 20);
  });
});
