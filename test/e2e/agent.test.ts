import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build, formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf } from "../../src/nix/index.js";
import { parseManifest, serializeManifest, signManifest, type Manifest } from "../../src/manifest/index.js";
import { AgentProcess, FleetRepo, ManifestServer, SimHost, oscdOn, tempDir, testNetwork, uniqueMarker, waitFor } from "../harness/index.js";
import { oscd } from "../integration/builder/helpers.js";

/**
 * The pull agent end to end: `oscd publish` writes a signed manifest into a file cache; three
 * SimHosts run `oscd agent` (the built CLI, inside each host) following it; each realises its
 * entry from the cache with the fleet key and switches through the in-process engine.
 */
let dir: string;
let fleet: FleetRepo;
let cache: string;
let keyFile: string;
let publicKey: string;
const key = generateSecretKey("fleet-agent");
const intruder = generateSecretKey("fleet-agent");
const rootDir = "/nix/var/nix/gcroots/oscd-tests-e2e-agent";
const NAMES = ["a1", "a2", "a3"] as const;
const hosts = new Map<string, SimHost>();
const agents = new Map<string, AgentProcess>();

const manifestFile = () => join(cache, "channels", "main.json");

function agentConfig(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    hostname: name,
    trustedPublicKeys: [publicKey],
    manifest: { urls: [`file://${manifestFile()}`], pollInterval: 1, randomizedDelaySec: 0 },
    exporter: { listenAddress: "0.0.0.0", port: 4243 },
    health: { retries: 0 },
    ...extra,
  };
}

async function publish(): Promise<Manifest> {
  const r = await oscd(["publish", "--repo", fleet.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, "--json"], { env: { OSCD_SIGNING_KEY_FILE: keyFile } });
  expect(r.exitCode, r.stderr).toBe(0);
  return parseManifest(await readFile(manifestFile(), "utf8"));
}

async function status(h: SimHost): Promise<{ currentSystem?: string; agent: { heldBack?: { code: string; reason: string }; lastDeployment?: { outcome: string }; waiting?: { reason: string }; sources: Record<string, { refusal?: { code: string } }> } }> {
  const r = await oscdOn(h, ["status", "--json"]);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as never;
}

async function metrics(h: SimHost): Promise<string> {
  return (await fetch(`http://${h.address}:4243/metrics`)).text();
}

const runs = async (h: SimHost, toplevel: string) => (await h.activations()).filter((a) => a.endsWith(toplevel)).length;

beforeAll(async () => {
  dir = await tempDir("e2e-agent");
  fleet = await FleetRepo.create({ hosts: NAMES.map((name) => ({ name, marker: uniqueMarker() })) });
  publicKey = formatPublicKey(publicKeyOf(key));
  keyFile = join(dir, "fleet.secret");
  await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
  cache = join(dir, "cache");
  await fleet.commitFile("oscd.toml", `caches = ["file://${cache}"]\n[keys]\ntrusted = ["${publicKey}"]\n`);
  for (const name of NAMES) hosts.set(name, await SimHost.create({ name }));
});

afterAll(async () => {
  for (const a of agents.values()) await a.kill("KILL").catch(() => undefined);
  for (const h of hosts.values()) await h.destroy();
  await fleet?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

describe("oscd agent following a manifest channel", () => {
  let first: Manifest;

  it("a publish reaches all three agents and each switches exactly once; a later publish moves only the changed host", async () => {
    for (const name of NAMES) agents.set(name, await AgentProcess.start(hosts.get(name)!, agentConfig(name)));
    first = await publish();
    for (const name of NAMES) {
      const h = hosts.get(name)!;
      const want = first.hosts[name]!.toplevel;
      await agents.get(name)!.waitForLog((l) => l.event === "deployed" && l.outcome === "committed" && l.toplevel === want, 90_000);
      expect(await h.currentSystem()).toBe(want);
      expect(await h.defaultBootToplevel()).toBe(want);
    }
    const second = await (async () => {
      await fleet.commitHostChange("a1", uniqueMarker());
      return publish();
    })();
    expect(second.sequence).toBe(first.sequence + 1);
    const a1 = hosts.get("a1")!;
    await waitFor(async () => (await a1.currentSystem()) === second.hosts.a1!.toplevel, 90_000, "a1 to switch again");
    // a2 and a3 read sequence 2 too (their entries did not change): nothing re-activated.
    await waitFor(async () => (await status(hosts.get("a2")!)).agent.lastDeployment?.outcome === "unchanged", 30_000, "a2 to see sequence 2 as unchanged");
    for (const name of NAMES) {
      const h = hosts.get(name)!;
      expect(await runs(h, first.hosts[name]!.toplevel), name).toBe(1);
    }
    expect(await runs(a1, second.hosts.a1!.toplevel)).toBe(1);
    const m = await metrics(a1);
    expect(m).toMatch(/^oscd_deployment_info\{commit_id="[0-9a-f]{40}",status="done"\} 1$/m);
    expect(m).toMatch(/^oscd_last_deployment_failed 0$/m);
    expect(m).toMatch(/^oscd_build_info\{version="[^"]+"\} 1$/m);
    expect(m).toMatch(/^oscd_fetch_count\{remote_name="manifest:main",status="succeeded"\} \d+$/m);
  });

  it("refuses a manifest signed with the wrong key, a replayed older one, a truncated and an expired one: visible in status, metrics, events and the log; nothing changes", async () => {
    const h = hosts.get("a2")!;
    const agent = agents.get("a2")!;
    const before = await h.currentSystem();
    const activations = (await h.activations()).length;
    const events = await h.sh(["sh", "-c", 'setsid node "$1" agent events >/root/events.log 2>&1 </dev/null & echo $!', "sh", (await import("../harness/oscd.js")).OSCD_BIN]);
    await oscdOn(h, ["agent", "fetch"]);
    await waitFor(async () => (await readFile(h.path("/root/events.log"), "utf8").catch(() => "")).includes('"fetched"'), 30_000, "the event stream to be connected");
    const current = parseManifest(await readFile(manifestFile(), "utf8"));
    const good = await readFile(manifestFile(), "utf8");

    // A forged manifest: the next sequence, a1's system for every host, signed by a key of the same name.
    const { signatures: _s, ...body } = current;
    const forged = signManifest({ ...body, sequence: current.sequence + 1, hosts: { ...current.hosts, a2: current.hosts.a1! } }, intruder);
    await writeFile(manifestFile(), serializeManifest(forged));
    await waitFor(async () => (await status(h)).agent.heldBack?.code === "manifest-untrusted", 30_000, "the forged manifest to be refused");
    expect((await status(h)).agent.heldBack?.reason).toMatch(/does not match the content|not signed by a trusted key/);
    expect(await metrics(h)).toMatch(/^oscd_held_back\{reason="manifest-untrusted"\} 1$/m);
    await agent.waitForLog((l) => l.event === "refused" && l.code === "manifest-untrusted");

    // A replay: the signed history file of sequence 1, served as current.
    await writeFile(manifestFile(), await readFile(join(cache, "channels", "main.1.json"), "utf8"));
    await waitFor(async () => (await status(h)).agent.heldBack?.code === "manifest-sequence", 30_000, "the replayed manifest to be refused");
    expect((await status(h)).agent.heldBack?.reason).toMatch(/sequence 1 is older than 2/);
    await agent.waitForLog((l) => l.event === "refused" && l.code === "manifest-sequence");

    // The agent's own state lost: the engine's records still give the floor, and the replay is refused again.
    await agent.kill("TERM");
    await rm(h.path("/var/lib/oscd/agent/state.json"));
    const fresh = await AgentProcess.start(h, agentConfig("a2"), { name: "agent-lost-state" });
    agents.set("a2", fresh);
    const again = await fresh.waitForLog((l) => l.event === "refused" && l.code === "manifest-sequence");
    expect(again.message).toMatch(/sequence 1 is older than 2/);
    const events2 = await h.sh(["sh", "-c", 'setsid node "$1" agent events >/root/events2.log 2>&1 </dev/null & echo $!', "sh", (await import("../harness/oscd.js")).OSCD_BIN]);
    await oscdOn(h, ["agent", "fetch"]);
    await waitFor(async () => (await readFile(h.path("/root/events2.log"), "utf8").catch(() => "")).includes('"fetched"'), 30_000, "the second event stream to be connected");

    // Garbage (a truncated upload).
    await writeFile(manifestFile(), good.slice(0, 100));
    await waitFor(async () => (await status(h)).agent.heldBack?.code === "manifest-format", 30_000, "the truncated manifest to be refused");

    // Expired: correctly signed, newer, but past its expiry (a frozen mirror serving an old file).
    const past = Date.now() - 10 * 86_400_000;
    const expired = signManifest({ ...body, sequence: current.sequence + 1, createdAt: new Date(past).toISOString(), expiresAt: new Date(past + 86_400_000).toISOString() }, key);
    await writeFile(manifestFile(), serializeManifest(expired));
    await waitFor(async () => (await status(h)).agent.heldBack?.code === "manifest-expired", 30_000, "the expired manifest to be refused");
    expect((await status(h)).agent.heldBack?.reason).toMatch(/being held back/);
    expect(await metrics(h)).toMatch(/^oscd_held_back\{reason="manifest-expired"\} 1$/m);

    expect(await h.currentSystem()).toBe(before);
    expect((await h.activations()).length).toBe(activations);
    const streamed = (await readFile(h.path("/root/events.log"), "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as { type?: string; code?: string });
    expect(streamed.filter((e) => e.type === "refused").map((e) => e.code)).toEqual(expect.arrayContaining(["manifest-untrusted", "manifest-sequence"]));
    const streamed2 = (await readFile(h.path("/root/events2.log"), "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as { type?: string; code?: string });
    expect(streamed2.filter((e) => e.type === "refused").map((e) => e.code)).toEqual(expect.arrayContaining(["manifest-format", "manifest-expired"]));
    await h.exec(["kill", events.stdout.trim(), events2.stdout.trim()]);

    // The good manifest again: held back no more, still nothing re-activated.
    await writeFile(manifestFile(), good);
    await waitFor(async () => (await status(h)).agent.heldBack === undefined, 30_000, "the hold to clear");
    expect((await h.activations()).length).toBe(activations);
    const line = await oscdOn(h, ["status", "--oneline"]);
    expect(line.stdout).toMatch(/^a2 1\.0\.0 [0-9a-f]{12} ok no-reboot\n$/);
  });

  it("a kill -9 of the agent mid-deployment is rolled back and finished by the restarted agent; a release that kills it every time is not retried forever", async () => {
    const h = hosts.get("a3")!;
    await agents.get("a3")!.kill("TERM");
    const crashAt = { OSCD_FAULT_KILL_AT: "switched" };
    const crashing = await AgentProcess.start(h, agentConfig("a3"), { env: crashAt, name: "agent-crash" });
    await fleet.commitHostChange("a3", uniqueMarker());
    const next = await publish();
    const want = next.hosts.a3!.toplevel;
    await waitFor(async () => !(await crashing.alive()), 90_000, "the agent to kill itself after the switch");
    // Killed between switch and commit: the new system runs, the journal is open.
    expect(await h.currentSystem()).toBe(want);
    expect((await oscdOn(h, ["status", "--json"])).stdout).toMatch(/"openDeployment": \{/);
    const restarted = await AgentProcess.start(h, agentConfig("a3"), { name: "agent-restarted" });
    agents.set("a3", restarted);
    // The engine rolls the interrupted deployment back (health was never confirmed); a crash is
    // not the release's fault, so the agent deploys it again and this time commits it.
    expect((await restarted.waitForLog((l) => l.event === "recovered")).outcome).toBe("rolled-back");
    await restarted.waitForLog((l) => l.event === "deployed" && l.outcome === "committed" && l.toplevel === want);
    expect(await h.currentSystem()).toBe(want);
    const s = JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { openDeployment?: unknown; generation: { toplevel: string } };
    expect(s.openDeployment).toBeUndefined();
    expect(s.generation.toplevel).toBe(want);

    // A release whose switch kills the agent every time: two interrupted attempts, then refused.
    await restarted.kill("TERM");
    await fleet.commitHostChange("a3", uniqueMarker());
    const bad = (await publish()).hosts.a3!.toplevel;
    for (const n of [1, 2]) {
      const a = await AgentProcess.start(h, agentConfig("a3"), { env: crashAt, name: `agent-loop-${n}` });
      await waitFor(async () => !(await a.alive()), 90_000, `attempt ${n} to kill the agent`);
    }
    const last = await AgentProcess.start(h, agentConfig("a3"), { env: crashAt, name: "agent-loop-3" });
    agents.set("a3", last);
    const refused = await last.waitForLog((l) => l.event === "refused" && l.code === "agent-crash-loop");
    expect(refused.message).toContain(`${bad} was interrupted 2 times`);
    expect(await last.alive()).toBe(true);
    expect(await h.currentSystem()).toBe(want);
  });

  it("a host outside its switch window waits (status says so), then deploys when the window opens", async () => {
    const h = hosts.get("a1")!;
    await agents.get("a1")!.kill("TERM");
    const now = h.path("/root/now");
    // Fake times after the manifest's createdAt and before its expiry (publish: 7 days).
    const day = (n: number, hhmm: string) => `${new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10)}T${hhmm}:00.000Z`;
    await writeFile(now, `${day(1, "12:00")}\n`);
    const agent = await AgentProcess.start(h, agentConfig("a1", { switchWindows: [{ lower: "02:00", upper: "04:00" }] }), { env: { OSCD_TEST_NOW_FILE: "/root/now", TZ: "UTC" }, name: "agent-window" });
    agents.set("a1", agent);
    const before = await h.currentSystem();
    await fleet.commitHostChange("a1", uniqueMarker());
    const next = await publish();
    // The reason as status gave it (read once: a poll in between may be answered before the
    // agent sets it again).
    let reason = "";
    await waitFor(async () => /outside the switch window/.test((reason = (await status(h)).agent.waiting?.reason ?? "")), 60_000, "a1 to wait for its window");
    expect(reason).toContain(`it opens at ${day(2, "02:00")}`);
    expect(await h.currentSystem()).toBe(before);
    await writeFile(now, `${day(2, "02:30")}\n`);
    await oscdOn(h, ["agent", "fetch"]);
    // The deployment's end, not /run/current-system: the fake switch sets the link before it logs.
    await agent.waitForLog((l) => l.event === "deployed" && l.outcome === "committed" && l.toplevel === next.hosts.a1!.toplevel);
    expect(await h.currentSystem()).toBe(next.hosts.a1!.toplevel);
    expect(await runs(h, next.hosts.a1!.toplevel), (await h.activations()).join("\n")).toBe(1);
  });

  it("reports made while the report endpoint is down survive a kill -9 of the agent and arrive after the endpoint returns, each exactly once, with the host's token", async () => {
    const h = hosts.get("a2")!;
    const gateway = (await testNetwork()).gateway;
    // A free port, closed again: the endpoint is down until the server listens on it.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, gateway, () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    await writeFile(h.path("/root/report-token"), "host-token-a2\n", { mode: 0o600 });
    await agents.get("a2")!.kill("TERM");
    const agent = await AgentProcess.start(h, agentConfig("a2", { reports: { url: `http://${gateway}:${port}`, tokenFile: "/root/report-token", retryInterval: 1 } }), { name: "agent-reports" });
    agents.set("a2", agent);

    await fleet.commitHostChange("a2", uniqueMarker());
    const next = await publish();
    await agent.waitForLog((l) => l.event === "deployed" && l.outcome === "committed" && l.toplevel === next.hosts.a2!.toplevel, 90_000);
    await agent.waitForLog((l) => l.event === "report-undelivered");
    const outbox = h.path("/var/lib/oscd/agent/outbox");
    const queued = (await readdir(outbox)).filter((n) => n.endsWith(".json"));
    expect(queued.length).toBeGreaterThan(0);
    // Durable: the agent dies (kill -9) with the reports undelivered; the restarted one sends them.
    await agent.kill("KILL");
    const restarted = await AgentProcess.start(h, agentConfig("a2", { reports: { url: `http://${gateway}:${port}`, tokenFile: "/root/report-token", retryInterval: 1 } }), { name: "agent-reports-2" });
    agents.set("a2", restarted);

    const received: { auth?: string; key?: string; body: { id: string; type: string; outcome?: string; toplevel?: string; host: string } }[] = [];
    const server: Server = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        received.push({ auth: req.headers.authorization, key: req.headers["idempotency-key"] as string | undefined, body: JSON.parse(body) as never });
        res.writeHead(201).end();
      });
    });
    await new Promise<void>((r) => server.listen(port, gateway, () => r()));
    try {
      await waitFor(async () => (await readdir(outbox)).filter((n) => n.endsWith(".json")).length === 0, 60_000, "the outbox to empty");
      const ids = received.map((r) => r.body.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBeGreaterThanOrEqual(queued.length);
      expect(received.every((r) => r.auth === "Bearer host-token-a2" && r.key === r.body.id && r.body.host === "a2")).toBe(true);
      expect(received.map((r) => r.body)).toContainEqual(expect.objectContaining({ type: "deployment", outcome: "committed", toplevel: next.hosts.a2!.toplevel }));
      // Later reports (the restarted agent reads the channel again) are new ones: no id twice.
      await oscdOn(h, ["agent", "fetch"]);
      await restarted.waitForLog((l) => l.event === "fetched" && Date.parse(String(l.at)) > Date.now() - 5000);
      await waitFor(async () => (await readdir(outbox)).filter((n) => n.endsWith(".json")).length === 0, 60_000, "the outbox to empty again");
      const all = received.map((r) => r.body.id);
      expect(new Set(all).size).toBe(all.length);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("over http, an agent holds a long-poll and a publish reaches it through the held request", async () => {
    const h = hosts.get("a3")!;
    const gateway = (await testNetwork()).gateway;
    const server = await ManifestServer.start(cache, gateway);
    try {
      await agents.get("a3")!.kill("TERM");
      const url = server.url(gateway, "channels/main.json");
      const agent = await AgentProcess.start(h, agentConfig("a3", { manifest: { urls: [url], pollInterval: 600, randomizedDelaySec: 0, longPollSeconds: 120 } }), { name: "agent-longpoll" });
      agents.set("a3", agent);
      // The first answer offers long-poll; the next request is held (wait=120).
      await waitFor(async () => ((await status(h)).agent?.sources["manifest:main"] as { longPoll?: boolean } | undefined)?.longPoll === true, 30_000, "the agent to see the long-poll offer");
      const held = server.requests.length;
      await fleet.commitHostChange("a3", uniqueMarker());
      const next = await publish();
      server.changed();
      await agent.waitForLog((l) => l.event === "deployed" && l.outcome === "committed" && l.toplevel === next.hosts.a3!.toplevel, 90_000);
      // Answered by the held request, not by a new poll (the poll interval is 600 s).
      const answered = server.requests.slice(held).find((r) => r.status === 200);
      expect(answered?.url).toMatch(/\?wait=120$/);
    } finally {
      await server.stop();
    }
  });
  it("with a manifest channel and a git remote together, the newest offer wins and status says which source won, over which, and why", async () => {
    const h = hosts.get("a3")!;
    await agents.get("a3")!.kill("TERM");
    const agent = await AgentProcess.start(h, agentConfig("a3", { remotes: [{ name: "local", url: fleet.dir, poller: { period: 2 } }] }), { name: "agent-both" });
    agents.set("a3", agent);
    // A commit on main: the git source builds it here and deploys it before any publish.
    const commit = await fleet.commitHostChange("a3", uniqueMarker());
    const [built] = await build(fleet.nixSource(commit), [fleet.attr("a3")]);
    const want = built!.outPath;
    await agent.waitForLog((l) => l.event === "deployed" && l.outcome === "committed" && l.toplevel === want && l.source === "git:local/main", 120_000, "the git source to deploy main");
    type Desired = { source: string; toplevel: string; reason: string; commit?: string; sequence?: number; over?: { source: string; toplevel: string } };
    const byGit = (await status(h)).agent as unknown as { desired: Desired };
    expect(byGit.desired).toMatchObject({ source: "git:local/main", toplevel: want, commit });
    expect(byGit.desired.reason).toContain(`main at ${commit.slice(0, 12)}`);

    // The same commit published: the manifest's offer is newer, so it wins over the git one,
    // and as the system already runs it, nothing is activated again.
    const activations = (await h.activations()).length;
    const m = await publish();
    expect(m.hosts.a3!.toplevel).toBe(want);
    await agent.waitForLog((l) => l.event === "desired" && l.source === "manifest:main" && l.toplevel === want, 60_000, "the manifest's offer");
    await waitFor(async () => (await status(h)).agent.lastDeployment?.outcome === "unchanged", 30_000, "the manifest's offer to be deployed as unchanged");
    const byManifest = (await status(h)).agent as unknown as { desired: Desired };
    expect(byManifest.desired).toMatchObject({ source: "manifest:main", toplevel: want, sequence: m.sequence, over: { source: "git:local/main", toplevel: want } });
    expect(byManifest.desired.reason).toMatch(new RegExp(`^channel main sequence ${m.sequence} \\(after \\d+\\); the newest offer wins, over git:local/main$`));
    expect((await h.activations()).length).toBe(activations);
  });
});
