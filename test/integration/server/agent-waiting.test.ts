import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, controlRequest, parseAgentConfig, type AgentStatus } from "../../../src/agent/index.js";
import { agentLogger } from "../../../src/agent/log.js";
import { serializeManifest } from "../../../src/manifest/index.js";
import { formatPublicKey, publicKeyOf } from "../../../src/nix/index.js";
import { waitFor } from "../../harness/index.js";
import { FLEET_KEY, signedManifest, startTestServer, type TestServer } from "../../harness/control-server.js";

/**
 * A host whose channel has no release for it yet is waiting, not failing: the server answers
 * 204 with a tag of its own, the agent long-polls it like any manifest (no backoff, no
 * `source-unreachable`), its status says what it waits for, and the moment its rollout wave
 * starts the held request is answered with the manifest. The agent is suspended, so nothing
 * deploys on this machine; what it wants is enough.
 */
let s: TestServer;
let dir: string;
let agent: Agent;
const logLines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString().split("\n").filter(Boolean)) logLines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  },
});
const socket = () => join(dir, "run", "agent.sock");
const status = async () => ((await controlRequest(socket(), "status")) as { agent: AgentStatus }).agent;

beforeAll(async () => {
  s = await startTestServer("sqlite", { tickMs: 50 });
  dir = await mkdtemp(join(tmpdir(), "oscd-agent-waiting-"));
  const token = await s.hostToken("wait1", { channel: "main" });
  await s.hostToken("other1", { channel: "main" });
  await writeFile(join(dir, "token"), token + "\n", { mode: 0o600 });
  const config = parseAgentConfig({
    hostname: "wait1",
    stateDir: join(dir, "state"),
    controlSocket: socket(),
    trustedPublicKeys: [formatPublicKey(publicKeyOf(FLEET_KEY))],
    // The agent reads its token from the file for each request, as the NixOS module sets it up.
    server: { url: s.url, tokenFile: join(dir, "token"), channel: "main" },
    // A failure would back off 300 s: the test's own timeout proves the agent never did.
    manifest: { pollInterval: 300, randomizedDelaySec: 0, longPollSeconds: 300 },
    backoff: { initial: 300, max: 300 },
    exporter: { enable: false },
  });
  agent = new Agent({ config, version: "test", log: agentLogger("debug", sink), random: () => 0.5 });
  await agent.start();
  agent.setSuspended(true);
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  await s?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a host with no release yet", () => {
  it("is answered 204 with a tag of its own, and long-polls it", async () => {
    const t = (await readFile(join(dir, "token"), "utf8")).trim();
    const first = await s.api("GET", "/api/v1/channels/main/manifest", { token: t });
    expect(first.status).toBe(204);
    expect(first.text).toBe("");
    expect(first.headers.get("x-oscd-long-poll")).toBe("1");
    const etag = first.headers.get("etag") as string;
    expect(etag).toBe('"oscd-no-release"');
    const again = await s.api("GET", "/api/v1/channels/main/manifest?wait=1", { token: t, headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
  });

  it("the agent says it waits for a release of main, without a failure or a backoff", async () => {
    await waitFor(async () => (await status()).waiting?.reason === "waiting for a release of main", 20_000, "the agent to wait for a release");
    const st = await status();
    expect(st.sources["manifest:main"]?.lastFetch).toMatchObject({ status: "none", detail: "waiting for a release of main" });
    expect(st.sources["manifest:main"]?.longPoll).toBe(true);
    expect(st.heldBack).toBeUndefined();
    // Its request is held by the server (a long-poll), not repeated.
    await waitFor(async () => /^oscd_long_polls_waiting [1-9]/m.test((await s.api("GET", "/metrics")).text), 20_000, "the agent's long-poll to be held");
    expect(logLines.filter((l) => l.event === "fetch-failed")).toEqual([]);
    expect(logLines.some((l) => l.event === "fetched" && l.status === "none" && l.msg === "waiting for a release of main")).toBe(true);
  });

  it("a release that waits for a rollout keeps it waiting; its wave starting answers the held request at once", async () => {
    await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, ["wait1", "other1"])) });
    await new Promise((r) => setTimeout(r, 300));
    expect((await status()).desired).toBeUndefined();
    const before = logLines.length;
    const made = await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 1, canary: ["other1"], bakeSeconds: 0 } });
    expect(made.status).toBe(201);
    // The canary (other1) reports healthy; wait1's wave starts, and its long-poll is answered.
    await s.api("POST", "/api/v1/reports", { token: await s.hostToken("other1", { channel: "main" }), body: { id: "o1", status: "success", channel: "main", sequence: 1 } });
    await waitFor(async () => (await status()).desired?.sequence === 1, 20_000, "wait1 to want release 1");
    expect(logLines.slice(before).filter((l) => l.event === "fetched").map((l) => l.status)).toEqual(["new"]);
    const st = await status();
    expect(st.waiting?.reason).toBe("suspended");
    expect(logLines.filter((l) => l.event === "fetch-failed")).toEqual([]);
  });
});
