import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicKeyOf } from "../../../src/nix/index.js";
import { createToken, startServer, type RunningServer } from "../../../src/server/index.js";
import { FLEET_KEY } from "../../harness/control-server.js";

/**
 * iPXE cannot send headers, so netboot URLs carry the host token: it must never reach the
 * server's log lines, and a request for a host without a release learns only that.
 */
let dir: string;
let server: RunningServer;
const lines: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-netboot-log-"));
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  server = await startServer({ db: `sqlite:${join(dir, "server.db")}`, trusted: [publicKeyOf(FLEET_KEY)], listen: "127.0.0.1:0", logger: { level: "info", stream } as never });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("netboot URLs in the server log", () => {
  it("the token in a netboot URL is redacted from every log line", async () => {
    const { token } = await createToken(server.ctx.db, { kind: "host", host: "pxe1", channel: "main" });
    const secret = token.slice(token.lastIndexOf("_") + 1);
    const res = await fetch(`${server.url}/netboot/token/${token}/boot.ipxe`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("netboot-no-release");
    const forged = await fetch(`${server.url}/netboot/token/${token.slice(0, -3)}AAA/kernel`);
    expect(forged.status).toBe(403);
    await new Promise((r) => setTimeout(r, 50));
    const log = lines.join("");
    expect(log).toContain("/netboot/token/<redacted>/boot.ipxe");
    expect(log).not.toContain(secret);
    expect(log).not.toContain(token.slice(0, 20));
  });
});
