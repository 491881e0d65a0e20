import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { manifestEndpoints, parseAgentConfig } from "../../../src/agent/index.js";
import { ManifestSource } from "../../../src/agent/manifest-source.js";
import { Outbox } from "../../../src/agent/outbox.js";
import { serializeManifest } from "../../../src/manifest/index.js";
import { signedManifest, startTestServer, type TestServer } from "../../harness/control-server.js";
import { freePort } from "../../harness/postgres.js";

/**
 * The agent's own client code (src/agent: ManifestSource with long-poll, the report Outbox)
 * against the server: the contract is tested from the agent's side, not a copy of it.
 */
let s: TestServer;
const dir = mkdtempSync(join(tmpdir(), "oscd-agent-contract-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(async () => {
  s = await startTestServer("sqlite", { tickMs: 50 });
});
afterEach(async () => {
  await s.close();
});

async function eventually<T>(f: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await f();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("the agent's client code against the server", () => {
  it("ManifestSource reads the host's manifest from the URL `server` derives, with the token from its file as a Bearer header, learns long-poll, and is woken by a rollout", async () => {
    const token = await s.hostToken("web1", { channel: "main" });
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, ["web1", "web2"])) });
    await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 2, ["web1", "web2"])) });
    const tokenFile = join(dir, "web1.server-token");
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const config = parseAgentConfig({ trustedPublicKeys: ["fleet-1:5U2xWEanFJNHDeA0f4BvqSvVvc3KLMRVa2bJxPPz4Z8="], server: { url: s.url, tokenFile, channel: "main" } });

    // A token the server does not know is refused, and nothing is served.
    writeFileSync(tokenFile, "oscd_nosuchid_" + "a".repeat(43));
    const refused = (await new ManifestSource(manifestEndpoints(config), { timeoutMs: 10_000, longPollSeconds: 0 }).fetch().catch((e: unknown) => e)) as Error;
    expect(refused.message).toMatch(/HTTP 401/);
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });

    const src = new ManifestSource(manifestEndpoints(config), { timeoutMs: 10_000, longPollSeconds: 60 });
    const first = await src.fetch();
    expect(first.kind).toBe("new");
    expect(JSON.parse((first as { text: string }).text).sequence).toBe(1);
    expect(src.longPolling).toBe(true);
    const waiting = src.fetch();
    await new Promise((r) => setTimeout(r, 200));
    await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, canary: ["web1"], bakeSeconds: 0 } });
    const woke = await waiting;
    expect(woke.kind).toBe("new");
    expect(JSON.parse((woke as { text: string }).text).sequence).toBe(2);
  });

  it("Outbox reports arrive once each; a committed deployment moves the rollout on, a refusal halts it", async () => {
    const tokens = new Map<string, string>();
    for (const h of ["web1", "web2", "web3"]) tokens.set(h, await s.hostToken(h, { channel: "main" }));
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, ["web1", "web2", "web3"])) });
    await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 2, ["web1", "web2", "web3"])) });
    const id = ((await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, canary: ["web1"], waves: [{ hosts: ["web2"] }], bakeSeconds: 0 } })).json as { id: string }).id;
    const outbox = (host: string) => {
      const tokenFile = join(dir, `${host}.token`);
      writeFileSync(tokenFile, tokens.get(host) as string);
      return new Outbox({ dir: join(dir, `${host}-outbox`), url: s.url, tokenFile, retryIntervalSec: 1, log: pino({ level: "silent" }) });
    };
    const o1 = outbox("web1");
    const run1 = o1.run();
    await o1.add({ host: "web1", at: new Date().toISOString(), type: "deployment", outcome: "committed", sequence: 2, version: "1.0.2", generation: 5 });
    const rollout = () => s.api("GET", `/api/v1/rollouts/${id}`, { token: s.admin }).then((r) => r.json as { current_wave: number; state: string; reason: string | null });
    await eventually(rollout, (r) => r.current_wave === 1, "wave 1 to start");
    const o2 = outbox("web2");
    const run2 = o2.run();
    await o2.add({ host: "web2", at: new Date().toISOString(), type: "refusal", code: "manifest-untrusted", message: "the manifest is not signed by a trusted key", sequence: 2 });
    const halted = await eventually(rollout, (r) => r.state === "halted", "the rollout to halt");
    expect(halted.reason).toContain("web2");
    o1.stop();
    o2.stop();
    await Promise.all([run1, run2]);
    expect(await o1.pending()).toEqual([]);
    const rows = await s.server.ctx.db.selectFrom("reports").select(["host", "channel", "sequence", "status"]).orderBy("host").execute();
    expect(rows.map((r) => [r.host, r.channel, Number(r.sequence), r.status])).toEqual([
      ["web1", "main", 2, "ok"],
      ["web2", "main", 2, "failed"],
    ]);
    const web2 = (await s.api("GET", "/api/v1/hosts/web2", { token: s.admin })).json as { host: { reason: string } };
    expect(web2.host.reason).toBe("the manifest is not signed by a trusted key [manifest-untrusted]");
    expect(await Promise.all(["web1", "web2", "web3"].map(async (h) => JSON.parse((await s.api("GET", "/api/v1/channels/main/manifest", { token: tokens.get(h) })).text).sequence))).toEqual([2, 2, 1]);
  });

  it("Outbox with fallbackUrls: a server that is down is passed over for the next, and the report is stored once", async () => {
    const token = await s.hostToken("web1", { channel: "main" });
    await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, ["web1"])) });
    const tokenFile = join(dir, "fallback.token");
    writeFileSync(tokenFile, token);
    // Nothing listens on the first URL (a server killed): the report goes to the second.
    const down = `http://127.0.0.1:${await freePort()}`;
    const o = new Outbox({ dir: join(dir, "fallback-outbox"), url: down, fallbackUrls: [s.url], tokenFile, retryIntervalSec: 1, log: pino({ level: "silent" }) });
    const run = o.run();
    await o.add({ host: "web1", at: new Date().toISOString(), type: "deployment", outcome: "committed", sequence: 1, version: "1.0.1", generation: 3 });
    await eventually(() => o.pending(), (p) => p.length === 0, "the report to be delivered");
    o.stop();
    await run;
    const rows = await s.server.ctx.db.selectFrom("reports").select(["host", "sequence"]).where("kind", "=", "report").execute();
    expect(rows.map((r) => [r.host, Number(r.sequence)])).toEqual([["web1", 1]]);
    // Without the fallback the same outbox keeps the report (nothing acknowledged it).
    const alone = new Outbox({ dir: join(dir, "alone-outbox"), url: down, tokenFile, retryIntervalSec: 1, log: pino({ level: "silent" }) });
    const runAlone = alone.run();
    await alone.add({ host: "web1", at: new Date().toISOString(), type: "deployment", outcome: "committed", sequence: 1, version: "1.0.1", generation: 3 });
    await new Promise((r) => setTimeout(r, 300));
    alone.stop();
    await runAlone;
    expect(await alone.pending()).toHaveLength(1);
  });
});
