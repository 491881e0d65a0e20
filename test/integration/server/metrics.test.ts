import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { serializeManifest } from "../../../src/manifest/index.js";
import { signedManifest, startTestServer, type TestServer } from "../../harness/control-server.js";

/** Prometheus metrics: hosts by status, rollouts by state, reports, manifest answers, request latencies. */
let s: TestServer;
beforeEach(async () => {
  s = await startTestServer("sqlite");
});
afterEach(async () => {
  await s.close();
});

describe("/metrics", () => {
  it("counts hosts by status, rollouts, reports and 200/304 manifest answers, with no token needed", async () => {
    const web1 = await s.hostToken("web1");
    await s.hostToken("web2");
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, ["web1", "web2"])) });
    await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 2, ["web1", "web2"])) });
    await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, canary: ["web1"] } });
    await s.api("POST", "/api/v1/reports", { token: web1, body: { id: "a", status: "failed", channel: "main", sequence: 2 } });
    await s.api("POST", "/api/v1/reports", { token: web1, body: { id: "a", status: "failed", channel: "main", sequence: 2 } });
    const m = await s.api("GET", "/api/v1/channels/main/manifest", { token: web1 });
    await s.api("GET", "/api/v1/channels/main/manifest", { token: web1, headers: { "if-none-match": m.headers.get("etag") as string } });
    const text = (await s.api("GET", "/metrics")).text;
    expect(text).toMatch(/^oscd_hosts\{status="failed"\} 1$/m);
    expect(text).toMatch(/^oscd_hosts\{status="new"\} 1$/m);
    expect(text).toMatch(/^oscd_reports_total\{kind="report",result="new"\} 1$/m);
    expect(text).toMatch(/^oscd_reports_total\{kind="report",result="duplicate"\} 1$/m);
    expect(text).toMatch(/^oscd_manifest_requests_total\{result="200"\} 1$/m);
    expect(text).toMatch(/^oscd_manifest_requests_total\{result="304"\} 1$/m);
    // Running, or halted already if the failed canary was looked at before the scrape.
    expect(text).toMatch(/^oscd_rollouts\{state="(running|halted)"\} 1$/m);
    expect(text).toMatch(/^oscd_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/reports"\} 2$/m);
    expect(text).not.toContain(s.admin);
  });
});
