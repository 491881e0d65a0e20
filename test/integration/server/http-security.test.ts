import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serializeManifest } from "../../../src/manifest/index.js";
import { CONTENT_SECURITY_POLICY } from "../../../src/server/http-security.js";
import { signedManifest, startTestServer, type TestServer } from "../../harness/control-server.js";

/**
 * Every answer of the control server carries the Content-Security-Policy and
 * `X-Content-Type-Options: nosniff`: pages, API answers, refusals, 404s, cache files, netboot
 * scripts, metrics and the event stream alike.
 */
let s: TestServer;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-http-security-"));
  await writeFile(join(dir, "nix-cache-info"), "StoreDir: /nix/store\n");
  s = await startTestServer("sqlite", { cacheDir: dir, webhookSecret: "0123456789abcdef0123" });
});
afterAll(async () => {
  await s?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("security headers on every response", () => {
  it("sends the CSP and nosniff on each route, answered or refused", async () => {
    const web1 = await s.hostToken("web1", { channel: "main" });
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, ["web1"])) });
    const requests: [string, string, { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> }, number][] = [
      ["GET", "/", {}, 200],
      ["GET", "/dashboard.js", {}, 200],
      ["GET", "/dashboard.css", {}, 200],
      ["GET", "/healthz", {}, 200],
      ["GET", "/metrics", {}, 200],
      ["GET", "/api/v1/hosts", { token: s.admin }, 200],
      ["GET", "/api/v1/hosts", {}, 401],
      ["GET", "/api/v1/hosts/web1", { token: web1 }, 200],
      ["GET", "/api/v1/hosts/web2", { token: web1 }, 403],
      ["GET", "/api/v1/channels/main/manifest", { token: web1 }, 200],
      ["GET", "/api/v1/releases", { token: s.admin }, 200],
      ["GET", "/api/v1/releases/main/1", { token: s.admin }, 200],
      ["GET", "/api/v1/releases/main/x", { token: s.admin }, 400],
      ["GET", "/api/v1/rollouts", { token: s.admin }, 200],
      ["GET", "/api/v1/tokens", { token: s.admin }, 200],
      ["GET", "/api/v1/jobs", { token: s.admin }, 200],
      ["POST", "/api/v1/reports", { token: web1, body: { id: "r1", status: "ok" } }, 201],
      ["POST", "/api/v1/reports", { token: web1, raw: "{not json", headers: { "content-type": "application/json" } }, 400],
      ["POST", "/api/v1/reports", { token: web1, raw: "x".repeat(70_000), headers: { "content-type": "application/json" } }, 413],
      ["POST", "/api/v1/webhooks/github", { raw: "{}", headers: { "x-hub-signature-256": "sha256=00" } }, 401],
      ["GET", "/cache/nix-cache-info", { token: web1 }, 200],
      ["GET", "/cache/missing.narinfo", { token: web1 }, 404],
      ["GET", "/netboot/boot.ipxe", {}, 200],
      ["GET", "/netboot/mac/00:11:22:33:44:55/boot.ipxe", {}, 404],
      ["GET", "/netboot/token/not-a-token/boot.ipxe", {}, 403],
      ["GET", "/no/such/endpoint", {}, 404],
      ["DELETE", "/", {}, 404],
    ];
    for (const [method, path, opts, status] of requests) {
      const r = await s.api(method, path, opts);
      const what = `${method} ${path} → ${r.status} ${r.text.slice(0, 120)}`;
      expect(r.status, what).toBe(status);
      expect(r.headers.get("content-security-policy"), what).toBe(CONTENT_SECURITY_POLICY);
      expect(r.headers.get("x-content-type-options"), what).toBe("nosniff");
    }
    // The event stream writes its own head: the headers are there too.
    const abort = new AbortController();
    const events = await fetch(`${s.url}/api/v1/events`, { headers: { authorization: `Bearer ${s.admin}` }, signal: abort.signal });
    expect(events.status).toBe(200);
    expect(events.headers.get("content-type")).toBe("text/event-stream");
    expect(events.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
    expect(events.headers.get("x-content-type-options")).toBe("nosniff");
    abort.abort();
    expect(CONTENT_SECURITY_POLICY).toMatch(/script-src 'self'/);
    expect(CONTENT_SECURITY_POLICY).toMatch(/frame-ancestors 'none'/);
  });
});

describe("/metrics with --metrics-token-file", () => {
  it("stays open without a token configured", async () => {
    expect((await s.api("GET", "/metrics")).status).toBe(200);
  });

  it("needs that bearer token when one is configured: none, a wrong one, an admin token and a prefix of it are refused", async () => {
    const token = "metrics-0123456789abcdef";
    const m = await startTestServer("sqlite", { metricsToken: token });
    try {
      for (const [auth, why] of [
        [undefined, "no metrics token"],
        ["Bearer wrong-token-0123456789", "does not match"],
        [`Bearer ${m.admin}`, "does not match"],
        [`Bearer ${token.slice(0, -1)}`, "does not match"],
        [`Bearer ${token}x`, "does not match"],
        [`Basic ${token}`, "no metrics token"],
      ] as const) {
        const r = await m.api("GET", "/metrics", { headers: auth ? { authorization: auth } : {} });
        expect(r.status, auth).toBe(401);
        expect(r.json).toMatchObject({ error: { code: "unauthorized", message: expect.stringContaining(why) } });
        expect(r.text).not.toContain("oscd_hosts");
        expect(r.text).not.toContain(token);
      }
      const ok = await m.api("GET", "/metrics", { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(ok.text).toMatch(/^# HELP oscd_hosts /m);
      // Only /metrics: the rest of the API still takes its own tokens, /healthz none.
      expect((await m.api("GET", "/healthz")).status).toBe(200);
      expect((await m.api("GET", "/api/v1/hosts", { token: m.admin })).status).toBe(200);
    } finally {
      await m.close();
    }
  });
});
