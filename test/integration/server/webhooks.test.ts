import { createHmac } from "node:crypto";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { serializeManifest } from "../../../src/manifest/index.js";
import type { JobRunner } from "../../../src/server/jobs.js";
import { OTHER_KEY, signedManifest, startTestServer, stopTestPostgres, type Dialect, type TestServer } from "../../harness/control-server.js";

/** GitHub webhooks: HMAC-verified, replay-proof, each queued job run once with its log kept; both databases. */
afterAll(() => stopTestPostgres());

const SECRET = "webhook-secret-0123456789";
const sign = (body: string, secret = SECRET) => "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
const merged = JSON.stringify({ action: "closed", pull_request: { number: 7, merged: true, merge_commit_sha: "a".repeat(40), labels: [{ name: "release:minor" }] } });

async function eventually<T>(f: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await f();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.each<Dialect>(["sqlite", "postgres"])("GitHub webhooks (%s)", (dialect) => {
  let s: TestServer;
  let calls: string[];
  let manifestKey = "fleet";
  const runner: JobRunner = async (job) => {
    calls.push(job.kind);
    if (job.kind === "release") return { ok: true, log: "tagged v1.1.0" };
    const m = manifestKey === "fleet" ? signedManifest("main", 2, ["web1"]) : signedManifest("main", 2, ["web1"], OTHER_KEY);
    return { ok: true, log: "published main #2", manifest: serializeManifest(m) };
  };
  const hook = (body: string, headers: Record<string, string>) => s.api("POST", "/api/v1/webhooks/github", { raw: body, headers: { "content-type": "application/json", ...headers } });
  const jobs = async () => ((await s.api("GET", "/api/v1/jobs", { token: s.admin })).json as { jobs: { id: string; kind: string; state: string }[] }).jobs;

  beforeEach(async () => {
    calls = [];
    manifestKey = "fleet";
    s = await startTestServer(dialect, { webhookSecret: SECRET, jobRunner: runner, releaseJobsImmediately: true, tickMs: 50 });
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, ["web1"])) });
  });
  afterEach(async () => {
    await s.close();
  });

  it("a signed merged pull request queues a release, then a publish, each run once; the published manifest is served", async () => {
    const web1 = await s.hostToken("web1");
    const r = await hook(merged, { "x-hub-signature-256": sign(merged), "x-github-event": "pull_request", "x-github-delivery": "d-1" });
    expect(r.status).toBe(201);
    const done = await eventually(jobs, (j) => j.length === 2 && j.every((x) => x.state === "done"), "both jobs to finish");
    expect(done.map((j) => j.kind).sort()).toEqual(["publish", "release"]);
    expect(calls).toEqual(["release", "publish"]);
    const publish = done.find((j) => j.kind === "publish")!;
    const log = ((await s.api("GET", `/api/v1/jobs/${publish.id}`, { token: s.admin })).json as { log: string }).log;
    expect(log).toContain("published main #2");
    expect(log).toContain("release main #2 added, served to every host");
    const m = await s.api("GET", "/api/v1/channels/main/manifest", { token: web1 });
    expect((JSON.parse(m.text) as { sequence: number }).sequence).toBe(2);
    // The same signed body again, under a new delivery id: a replay, nothing is queued or run.
    const again = await hook(merged, { "x-hub-signature-256": sign(merged), "x-github-event": "pull_request", "x-github-delivery": "d-2" });
    expect([again.status, (again.json as { duplicate: boolean }).duplicate]).toEqual([200, true]);
    await new Promise((res) => setTimeout(res, 300));
    expect(calls).toEqual(["release", "publish"]);
    expect((await jobs()).length).toBe(2);
  });

  it("refuses unsigned, forged and oversized deliveries and queues nothing", async () => {
    const h = { "x-github-event": "pull_request" };
    const statuses = [
      (await hook(merged, h)).status,
      (await hook(merged, { ...h, "x-hub-signature-256": sign(merged, "guessed-secret") })).status,
      (await hook(merged, { ...h, "x-hub-signature-256": sign(merged.replace("7", "8")) })).status,
      (await hook(merged, { ...h, "x-hub-signature-256": sign(merged).slice(0, -2) })).status,
      (await hook(merged, { ...h, "x-hub-signature-256": "sha1=" + "0".repeat(40) })).status,
    ];
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    const big = JSON.stringify({ pad: "x".repeat(2 * 1024 * 1024) });
    expect((await hook(big, { ...h, "x-hub-signature-256": sign(big) })).status).toBe(413);
    const tag = JSON.stringify({ ref: "refs/tags/v1.0.0", after: "b".repeat(40) });
    expect((await hook(tag, { "x-github-event": "push", "x-hub-signature-256": sign(tag) })).status).toBe(202);
    expect(await jobs()).toEqual([]);
    expect(calls).toEqual([]);
  });

  it("a published manifest the fleet's keys do not verify fails its job and is never served", async () => {
    manifestKey = "attacker";
    const push = JSON.stringify({ ref: "refs/heads/main", after: "c".repeat(40) });
    expect((await hook(push, { "x-github-event": "push", "x-hub-signature-256": sign(push) })).status).toBe(201);
    const done = await eventually(jobs, (j) => j.length === 1 && j[0]!.state === "failed", "the publish job to fail");
    const log = ((await s.api("GET", `/api/v1/jobs/${done[0]!.id}`, { token: s.admin })).json as { log: string }).log;
    expect(log).toMatch(/the published manifest was refused: .*not signed by a trusted key/);
    expect(((await s.api("GET", "/api/v1/releases", { token: s.admin })).json as { releases: unknown[] }).releases.length).toBe(1);
  });
});

describe("webhooks off", () => {
  it("answers 404 when the server has no webhook secret", async () => {
    const s = await startTestServer("sqlite");
    try {
      const r = await s.api("POST", "/api/v1/webhooks/github", { raw: merged, headers: { "x-hub-signature-256": sign(merged), "x-github-event": "pull_request" } });
      expect(r.status).toBe(404);
    } finally {
      await s.close();
    }
  });
});
