import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../../src/core/exec.js";
import { startTestServer, type TestServer } from "../../harness/control-server.js";

/** The embedded binary cache: real `nix copy --to http://…/cache` uploads (admin token in a netrc) and reads back. */
const dir = mkdtempSync(join(tmpdir(), "oscd-server-cache-"));
const cacheDir = join(dir, "cache");
let s: TestServer;

beforeAll(async () => {
  s = await startTestServer("sqlite", { cacheDir });
});
afterAll(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

const netrc = (token: string) => {
  const f = join(dir, `netrc-${token.slice(5, 13)}`);
  writeFileSync(f, `machine 127.0.0.1 login oscd password ${token}\n`, { mode: 0o600 });
  return f;
};

describe("embedded binary cache", () => {
  it("accepts nix copy with an admin token, serves it back to a host token, and refuses others", async () => {
    const file = join(dir, `payload-${process.pid}-${Date.now()}`);
    writeFileSync(file, `oscd server cache test ${Math.random()}\n`);
    const add = await run("nix-store", ["--add", file], { timeoutMs: 60_000 });
    expect(add.exitCode, add.stderr).toBe(0);
    const path = add.stdout.trim();
    const store = `${s.url}/cache`;
    const host = await s.hostToken("web1");
    const noAuth = await run("nix", ["copy", "--to", store, path, "--option", "netrc-file", join(dir, "none")], { timeoutMs: 60_000 });
    expect(noAuth.exitCode).not.toBe(0);
    const asHost = await run("nix", ["copy", "--to", store, path, "--option", "netrc-file", netrc(host)], { timeoutMs: 60_000 });
    expect(asHost.exitCode).not.toBe(0);
    expect(readdirSync(cacheDir).filter((f) => f.endsWith(".narinfo"))).toEqual([]);
    const copy = await run("nix", ["copy", "--to", store, path, "--option", "netrc-file", netrc(s.admin)], { timeoutMs: 60_000 });
    expect(copy.exitCode, copy.stderr).toBe(0);
    expect(readdirSync(cacheDir).filter((f) => f.endsWith(".narinfo")).length).toBe(1);
    const info = await run("nix", ["path-info", "--store", store, path, "--option", "netrc-file", netrc(host)], { timeoutMs: 60_000 });
    expect(info.exitCode, info.stderr).toBe(0);
    expect(info.stdout.trim()).toBe(path);
  });

  it("refuses paths outside the cache layout and does not follow planted symlinks", async () => {
    symlinkSync("/etc/passwd", join(cacheDir, "planted.narinfo"));
    const get = (p: string, token = s.admin) => s.api("GET", `/cache/${p}`, { token });
    expect((await get("planted.narinfo")).status).toBe(404);
    expect((await get("..%2F..%2Fetc%2Fpasswd")).status).toBe(400);
    expect((await get(".upload-x")).status).toBe(400);
    expect((await get("etc/passwd")).status).toBe(400);
    expect((await get("nix-cache-info", "")).status).toBe(401);
    expect((await s.api("PUT", "/cache/nar%2F..%2F..%2Fx", { token: s.admin, raw: "x", headers: { "content-type": "application/octet-stream" } })).status).toBe(400);
    expect((await s.api("PUT", "/cache/x.narinfo", { token: await s.hostToken("web2"), raw: "x", headers: { "content-type": "text/x-nix-narinfo" } })).status).toBe(403);
  });
});
