import { spawn } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseManifest, serializeManifest, type Manifest } from "../../src/manifest/index.js";
import { formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf } from "../../src/nix/index.js";
import { createHmac } from "node:crypto";
import { cliJobRunner, createToken, startServer, type RunningServer } from "../../src/server/index.js";
import { AgentProcess, FleetRepo, OSCD_BIN, oscdOn, SimHost, tempDir, testNetwork, uniqueMarker, waitFor } from "../harness/index.js";
import { oscd } from "../integration/builder/helpers.js";

/**
 * Staged rollouts over real agents, driven as people drive them: three SimHosts run `oscd agent`
 * (the built CLI) against `oscd server` on the test bridge, long-polling their manifest and
 * reporting with their own token. Releases are handed over with `oscd publish --server`; a
 * three-wave rollout is started and watched with `oscd rollout`, another from the dashboard in
 * Chromium (start, per-host progress, pause, resume and abort after confirming); a release whose
 * canary fails halts, the canary shows rolled back with its cause first, and no other host sees
 * it; a manifest changed inside the server's database is refused by every agent; a manual
 * `oscd rollback` on a host shows as drift in the fleet view with the one report it sends.
 */
const NAMES = ["r1", "r2", "r3"] as const;
const WEBHOOK_SECRET = "e2e-webhook-secret-0123456789";
const key = generateSecretKey("fleet-rollout");
const rootDir = "/nix/var/nix/gcroots/oscd-tests-e2e-server-rollout";
let dir: string;
let fleet: FleetRepo;
let cache: string;
let keyFile: string;
let server: RunningServer;
let admin: string;
let operatorFile: string;
let browser: Browser;
const hosts = new Map<string, SimHost>();
const agents = new Map<string, AgentProcess>();

async function api(method: string, path: string, body?: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}

/** `oscd publish --server` (an operator's token): built, signed into the file cache, handed to the server. */
async function publish(...extra: string[]): Promise<{ manifest: Manifest; server: { release: { sequence: number; state: string }; waiting?: unknown; rollout?: { id: string } } }> {
  const r = await oscd(["publish", "--repo", fleet.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, "--server", server.url, "--server-token-file", operatorFile, "--json", ...extra], { env: { OSCD_SIGNING_KEY_FILE: keyFile } });
  expect(r.exitCode, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as { server: { release: { sequence: number; state: string }; waiting?: unknown } };
  return { manifest: parseManifest(await readFile(join(cache, "channels", "main.json"), "utf8")), server: out.server };
}

/** `oscd rollout …` as an operator. */
const rolloutCli = (...args: string[]) => oscd(["rollout", ...args, "--server", server.url, "--server-token-file", operatorFile], { timeoutMs: 60_000 });

interface Rollout {
  id: string;
  state: string;
  reason: string | null;
  waves: { name: string; state: string; startedAt: number | null; healthyAt: number | null; hosts: string[] }[];
}
const rollout = async (id: string) => (await api("GET", `/api/v1/rollouts/${id}`)).json as Rollout;

beforeAll(async () => {
  dir = await tempDir("e2e-server-rollout");
  fleet = await FleetRepo.create({ hosts: NAMES.map((name) => ({ name, marker: uniqueMarker() })) });
  const publicKey = formatPublicKey(publicKeyOf(key));
  keyFile = join(dir, "fleet.secret");
  await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
  cache = join(dir, "cache");
  await fleet.commitFile("oscd.toml", `caches = ["file://${cache}"]\n[keys]\ntrusted = ["${publicKey}"]\n`);
  const { gateway } = await testNetwork();
  // Webhook jobs run the real oscd (the built CLI) in the fleet repository; the key comes from the environment.
  process.env.OSCD_SIGNING_KEY_FILE = keyFile;
  server = await startServer({
    db: `sqlite:${join(dir, "server.db")}`,
    trusted: [publicKeyOf(key)],
    listen: `${gateway}:0`,
    tickMs: 200,
    webhookSecret: WEBHOOK_SECRET,
    jobRunner: cliJobRunner({ oscd: [process.execPath, OSCD_BIN], repo: fleet.dir, channel: "main", publishArgs: ["--state-dir", join(dir, "state"), "--roots-dir", rootDir] }),
    releaseJobsImmediately: true,
  });
  admin = (await createToken(server.ctx.db, { kind: "admin" })).token;
  operatorFile = join(dir, "operator.token");
  await writeFile(operatorFile, (await createToken(server.ctx.db, { kind: "operator" }, "e2e operator")).token + "\n", { mode: 0o600 });
  for (const name of NAMES) {
    const h = await SimHost.create({ name });
    hosts.set(name, h);
    const token = (await createToken(server.ctx.db, { kind: "host", host: name, channel: "main" })).token;
    await writeFile(h.path("/root/server-token"), token + "\n", { mode: 0o600 });
    agents.set(
      name,
      await AgentProcess.start(h, {
        hostname: name,
        trustedPublicKeys: [publicKey],
        // One setting for manifests and reports; the token stays in its file (sent as a Bearer header).
        server: { url: server.url, tokenFile: "/root/server-token", channel: "main" },
        manifest: { pollInterval: 1, randomizedDelaySec: 0, longPollSeconds: 30 },
        reports: { retryInterval: 1 },
        health: { retries: 0 },
      }),
    );
  }
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--disable-background-networking", "--disable-component-update", "--no-sandbox"] });
}, 300_000);

afterAll(async () => {
  delete process.env.OSCD_SIGNING_KEY_FILE;
  await browser?.close();
  for (const a of agents.values()) await a.kill("KILL").catch(() => undefined);
  for (const h of hosts.values()) await h.destroy();
  await server?.close();
  await fleet?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

describe("oscd server rolling releases out over SimHost agents", () => {
  let first: Manifest;
  let second: Manifest;

  it("a release served to all reaches every agent, and their reports reach the fleet table", async () => {
    const p = await publish("--immediate");
    first = p.manifest;
    expect(p.server.release.state).toBe("complete");
    for (const name of NAMES) await waitFor(async () => (await hosts.get(name)!.currentSystem()) === first.hosts[name]!.toplevel, 120_000, `${name} to switch to release 1`);
    await waitFor(
      async () => {
        const fleetRows = ((await api("GET", "/api/v1/hosts")).json as { hosts: { status: string; current: { sequence: number | null } }[] }).hosts;
        return fleetRows.length === 3 && fleetRows.every((h) => h.status === "ok" && h.current.sequence === first.sequence);
      },
      60_000,
      "every host to report release 1",
    );
  });

  it("from the CLI: a three-wave rollout started and watched live, each wave only once the one before reported healthy", async () => {
    for (const name of NAMES) await fleet.commitHostChange(name, uniqueMarker());
    const p = await publish();
    second = p.manifest;
    // Published without --rollout, the release waits: nobody gets it yet.
    expect(p.server.release.state).toBe("pending");
    expect(p.server.waiting).toBeDefined();
    const watch = spawn(process.execPath, [OSCD_BIN, "rollout", "start", "main", "--waves", "canary=r1; r2; rest", "--bake", "0", "--watch", "--server", server.url, "--server-token-file", operatorFile], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    watch.stdout.on("data", (d: Buffer) => (out += d.toString()));
    watch.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => watch.once("exit", (c) => r(c)));
    expect(code, out + err).toBe(0);
    // Live, per wave and per host: each host seen deploying (its agent fetched) then ok, in wave order.
    const lines = out.split("\n");
    const at = (l: string) => lines.indexOf(l);
    for (const l of ["wave 1 canary (r1): active", "  r1: ok", "wave 2 wave 1 (r2): active", "  r2: ok", "wave 3 rest (r3): active", "  r3: ok"]) expect(at(l), `${l} in:\n${out}`).toBeGreaterThanOrEqual(0);
    expect(at("  r1: ok")).toBeLessThan(at("wave 2 wave 1 (r2): active"));
    expect(at("  r2: ok")).toBeLessThan(at("wave 3 rest (r3): active"));
    expect(out).toMatch(/^rollout [0-9a-f]{8} done$/m);
    const id = (/^oscd: rollout ([0-9a-f]{16}) of main #/m.exec(err) ?? [])[1] as string;
    const r = await rollout(id);
    expect(r.waves.map((w) => [w.name, w.hosts])).toEqual([
      ["canary", ["r1"]],
      ["wave 1", ["r2"]],
      ["rest", ["r3"]],
    ]);
    for (let i = 1; i < r.waves.length; i++) expect(r.waves[i]!.startedAt!).toBeGreaterThanOrEqual(r.waves[i - 1]!.healthyAt!);
    for (const name of NAMES) expect(await hosts.get(name)!.currentSystem()).toBe(second.hosts[name]!.toplevel);
  });

  it("from the dashboard in Chromium: start, follow each host, pause, resume after confirming, promote, abort after confirming", async () => {
    for (const name of NAMES) await fleet.commitHostChange(name, uniqueMarker());
    const third = (await publish()).manifest;
    const page: Page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(server.url + "/");
    await page.fill("#token", (await readFile(operatorFile, "utf8")).trim());
    await page.click("#login-form button");
    await page.waitForSelector("#live.on");
    await page.goto(server.url + "/#/releases");
    await page.click('[data-channel="main"] button[data-action="start"]');
    await page.waitForSelector("#start-dialog[open]");
    await page.fill("#start-waves", "canary=r1; r2; rest");
    await page.fill("#start-bake", "10m");
    await page.click("#start-submit");
    await page.waitForSelector("#start-dialog", { state: "hidden" });
    const id = ((await api("GET", "/api/v1/rollouts")).json as { rollouts: { id: string; sequence: number }[] }).rollouts[0]!.id;
    expect((await rollout(id)).waves.map((w) => w.hosts)).toEqual([["r1"], ["r2"], ["r3"]]);
    const R = `[data-rollout="${id}"]`;
    // The canary's agent fetches, deploys and reports: the page follows it without a reload.
    await page.waitForSelector(`${R} [data-wave="0"] li[data-host="r1"][data-state="ok"]`, { timeout: 120_000 });
    await page.waitForSelector(`${R} [data-wave="0"][data-state="baking"] .countdown`);
    expect(await page.textContent(`${R} [data-wave="0"] .countdown`)).toMatch(/^baking: next wave in (9m|10m)/);
    expect(await page.getAttribute(`${R} [data-wave="1"] li[data-host="r2"]`, "data-state")).toBe("waiting");
    await page.click(`[data-rollout="${id}"] button[data-action="pause"]`);
    await page.waitForSelector(`[data-rollout="${id}"][data-state="paused"]`);
    // Resume asks first; Cancel leaves it paused.
    await page.click(`[data-rollout="${id}"] button[data-action="resume"]`);
    await page.waitForSelector("#confirm[open]");
    await page.click("#confirm-no");
    await page.waitForSelector("#confirm", { state: "hidden" });
    expect((await rollout(id)).state).toBe("paused");
    await page.click(`[data-rollout="${id}"] button[data-action="resume"]`);
    await page.click("#confirm-yes");
    await page.waitForSelector(`[data-rollout="${id}"][data-state="running"]`);
    // Promote ends the canary's bake now: the second wave starts and r2 deploys.
    await page.click(`[data-rollout="${id}"] button[data-action="promote"]`);
    await page.waitForSelector(`${R} [data-wave="1"] li[data-host="r2"][data-state="ok"]`, { timeout: 120_000 });
    await page.click(`[data-rollout="${id}"] button[data-action="abort"]`);
    expect(await page.textContent("#confirm-text")).toMatch(/^Abort this rollout\?/);
    await page.click("#confirm-yes");
    await page.waitForSelector(`[data-rollout="${id}"][data-state="aborted"]`);
    await page.close();
    expect(await hosts.get("r1")!.currentSystem()).toBe(third.hosts.r1!.toplevel);
    expect(await hosts.get("r2")!.currentSystem()).toBe(third.hosts.r2!.toplevel);
    // r3 was never reached: it keeps release 2 and never activated release 3.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await hosts.get("r3")!.currentSystem()).toBe(second.hosts.r3!.toplevel);
    expect((await hosts.get("r3")!.activations()).some((a) => a.endsWith(third.hosts.r3!.toplevel))).toBe(false);
    // Every step is in the audit list: the operator, through the dashboard.
    const audit = ((await api("GET", "/api/v1/audit")).json as { entries: { action: string; actor: string; via: string | null }[] }).entries.filter((e) => e.via === "dashboard").map((e) => e.action);
    expect(audit.slice(0, 5)).toEqual(["rollout.abort", "rollout.promote", "rollout.resume", "rollout.pause", "rollout.start"]);
    // Roll the rest forward so every host is on one release again.
    const rest = await rolloutCli("start", "main", "--bake", "0", "--watch");
    expect(rest.exitCode, rest.stdout + rest.stderr).toBe(0);
    second = third;
  });

  it("halts when the canary fails: the agent rolls back and reports it, the canary shows rolled back with its cause first, the others never see the release", async () => {
    await fleet.setHost({ name: "r1", failSwitch: true, marker: uniqueMarker() });
    for (const name of ["r2", "r3"]) await fleet.commitHostChange(name, uniqueMarker());
    const third = (await publish()).manifest;
    const started = await rolloutCli("start", "main", "--waves", "canary=r1; rest", "--bake", "0", "--watch");
    expect(started.exitCode).toBe(1);
    expect(started.stderr).toMatch(/rollout [0-9a-f]{8} ended halted: 1 host\(s\) failed \(r1\)/);
    expect(started.stdout).toMatch(/^ {2}r1: failed: .*\[rolled-back\] \(nixos-system-r1-\S+ rolled back to nixos-system-r1-\S+\)$/m);
    expect(await hosts.get("r1")!.currentSystem()).toBe(second.hosts.r1!.toplevel);
    // r2 and r3 stay on release 2: the server kept serving them its manifest.
    await new Promise((r) => setTimeout(r, 3000));
    for (const name of ["r2", "r3"]) {
      expect(await hosts.get(name)!.currentSystem()).toBe(second.hosts[name]!.toplevel);
      expect((await hosts.get(name)!.activations()).some((a) => a.endsWith(third.hosts[name]!.toplevel))).toBe(false);
    }
    const r1 = ((await api("GET", "/api/v1/hosts/r1")).json as { host: { status: string; reason: string } }).host;
    expect(r1.status).toBe("rolled-back");
    expect(r1.reason).not.toMatch(/^activation of/);
    expect(r1.reason).toMatch(/\[rolled-back\] \(nixos-system-r1-\S+ rolled back to nixos-system-r1-\S+\)$/);
    const status = await oscd(["status", "--server", server.url, "--server-token-file", operatorFile]);
    expect(status.stdout.split("\n")[0]).toBe("3 host(s): 2 ok · 1 rolled back · 0 failed · 0 drift · 0 offline");
    expect((await rolloutCli("abort")).exitCode).toBe(0);
  });

  it("a signed push webhook runs a real publish job whose release every agent deploys; an unsigned one is refused", async () => {
    await fleet.setHost({ name: "r1", marker: uniqueMarker() });
    const head = await fleet.head();
    const body = JSON.stringify({ ref: "refs/heads/main", after: head, deleted: false });
    const post = (headers: Record<string, string>) => fetch(`${server.url}/api/v1/webhooks/github`, { method: "POST", headers: { "content-type": "application/json", "x-github-event": "push", ...headers }, body });
    expect((await post({})).status).toBe(401);
    expect((await post({ "x-hub-signature-256": "sha256=" + createHmac("sha256", "not-the-secret").update(body).digest("hex") })).status).toBe(401);
    const ok = await post({ "x-hub-signature-256": "sha256=" + createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex"), "x-github-delivery": "e2e-1" });
    expect(ok.status).toBe(201);
    const job = ((await ok.json()) as { job: string }).job;
    await waitFor(async () => ["done", "failed"].includes(((await api("GET", `/api/v1/jobs/${job}`)).json as { state: string }).state), 240_000, "the publish job to finish");
    const done = (await api("GET", `/api/v1/jobs/${job}`)).json as { state: string; log: string };
    expect(done.state, done.log).toBe("done");
    expect(done.log).toMatch(/served to every host/);
    const published = parseManifest(await readFile(join(cache, "channels", "main.json"), "utf8"));
    expect(published.commit).toBe(head);
    for (const name of NAMES) await waitFor(async () => (await hosts.get(name)!.currentSystem()) === published.hosts[name]!.toplevel, 120_000, `${name} to deploy the webhook's release`);
    second = published;
  });

  it("a tampered or older manifest served by a compromised server is refused by every agent, and the refusals are reported", async () => {
    // The server's own store is compromised: a newer "release" whose bytes are release 2 with
    // every host pointed at r1's system and the sequence raised, its signature left as it was.
    const forged = serializeManifest({ ...second, sequence: second.sequence + 10, hosts: { r1: second.hosts.r1!, r2: second.hosts.r1!, r3: second.hosts.r1! } });
    await server.ctx.db.insertInto("releases").values({ channel: "main", sequence: second.sequence + 10, version: "evil", commit: second.commit, body: forged, etag: '"forged"', signer: "fleet-rollout", state: "complete", created_at: Date.now(), expires_at: null }).execute();
    await server.ctx.changed(["channel:main"]);
    for (const name of NAMES) {
      await agents.get(name)!.waitForLog((l) => l.event === "refused" && l.code === "manifest-untrusted", 60_000);
      expect(await hosts.get(name)!.currentSystem()).toBe(second.hosts[name]!.toplevel);
    }
    await waitFor(
      async () => {
        const rows = await server.ctx.db.selectFrom("reports").select(["host", "body"]).execute();
        return NAMES.every((n) => rows.some((r) => r.host === n && (JSON.parse(r.body) as { type?: string; code?: string }).code === "manifest-untrusted"));
      },
      60_000,
      "every agent to report the refusal",
    );
    // Then it replays release 1's genuine bytes as the newest: older than what the agents applied.
    await server.ctx.db.insertInto("releases").values({ channel: "main", sequence: second.sequence + 20, version: "replay", commit: first.commit, body: serializeManifest(first), etag: '"replayed"', signer: "fleet-rollout", state: "complete", created_at: Date.now(), expires_at: null }).execute();
    await server.ctx.changed(["channel:main"]);
    for (const name of NAMES) {
      await agents.get(name)!.waitForLog((l) => l.event === "refused" && l.code === "manifest-sequence", 60_000);
      expect(await hosts.get(name)!.currentSystem()).toBe(second.hosts[name]!.toplevel);
    }
  });

  it("a manual oscd rollback on a host with an agent shows as drift in the fleet view, with the one report it sends", async () => {
    // Every deployment so far (rolled back ones included) was the agents' own: none took it for drift.
    for (const name of NAMES) expect((await agents.get(name)!.lines()).filter((l) => l.event === "drift"), name).toEqual([]);
    const h = hosts.get("r3")!;
    const before = (await server.ctx.db.selectFrom("reports").select("id").where("host", "=", "r3").execute()).length;
    const back = await oscdOn(h, ["rollback"]);
    expect(back.exitCode, back.stderr).toBe(0);
    const now = (await h.currentSystem()) as string;
    expect(now).not.toBe(second.hosts.r3!.toplevel);
    await agents.get("r3")!.waitForLog((l) => l.event === "drift", 60_000, "the agent to notice the drift");
    await waitFor(async () => ((await api("GET", "/api/v1/hosts/r3")).json as { host: { status: string } }).host.status === "drift", 30_000, "r3 to show as drift");
    const row = ((await api("GET", "/api/v1/hosts/r3")).json as { host: { status: string; reason: string; current: { toplevel: string } } }).host;
    expect(row.current.toplevel).toBe(now);
    expect(row.reason).toMatch(/^the running system changed outside the agent: nixos-system-r3-\S+ \(generation \d+, version \S+\) instead of nixos-system-r3-\S+ \(generation \d+, version \S+\), by engine deployment \S+ \(switch, committed\)$/);
    // One report: the drift itself.
    const after = await server.ctx.db.selectFrom("reports").select(["id", "body"]).where("host", "=", "r3").execute();
    expect(after.length - before).toBe(1);
    expect((JSON.parse(after.at(-1)!.body) as { type: string }).type).toBe("drift");
    const status = await oscd(["status", "--server", server.url, "--server-token-file", operatorFile]);
    expect(status.stdout).toMatch(/ 1 drift /);
    expect(status.stdout).toMatch(/^r3 +drift +the running system changed outside the agent/m);
  });
});
