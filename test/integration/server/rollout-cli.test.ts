import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serializeManifest } from "../../../src/manifest/index.js";
import { signedManifest, startTestServer, type TestServer } from "../../harness/control-server.js";
import { ensureBuilt, OSCD_BIN } from "../../harness/oscd.js";
import { waitFor } from "../../harness/index.js";
import { oscd } from "../builder/helpers.js";

/**
 * `oscd rollout …` as users run it (the built CLI) against a server: start with waves, status
 * per wave and host, --watch's live lines, pause / resume / promote / abort, list, --immediate,
 * the channel's plan, and the refusals (wrong state, no token, bad waves).
 */
let s: TestServer;
const dir = mkdtempSync(join(tmpdir(), "oscd-rollout-cli-"));
const tokenFile = join(dir, "token");
const tokens = new Map<string, string>();
const HOSTS = ["web1", "web2", "web3", "db1"];
const cli = (args: string[], env: Record<string, string | undefined> = {}) => oscd(["rollout", ...args, "--server", s.url, "--server-token-file", tokenFile], { env: { OSCD_SERVER: undefined, OSCD_SERVER_TOKEN: undefined, ...env }, timeoutMs: 60_000 });
const report = (host: string, sequence: number, status: string) => s.api("POST", "/api/v1/reports", { token: tokens.get(host), body: { id: `${host}-${sequence}-${status}-${Math.random()}`, status, channel: "main", sequence, reason: status === "success" ? undefined : "health check nginx.service failed" } });
const fetchAs = (host: string) => s.api("GET", "/api/v1/channels/main/manifest", { token: tokens.get(host) });

beforeAll(async () => {
  await ensureBuilt();
  s = await startTestServer("sqlite", { tickMs: 50 });
  writeFileSync(tokenFile, s.admin + "\n", { mode: 0o600 });
  for (const h of HOSTS) tokens.set(h, await s.hostToken(h, { tags: h.startsWith("db") ? ["db"] : ["web"], channel: "main" }));
  await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, HOSTS)) });
  await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 2, HOSTS)) });
});
afterAll(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("oscd rollout (CLI)", () => {
  it("refuses without a server or a token, and bad waves before asking the server", async () => {
    const noServer = await oscd(["rollout", "list"], { env: { OSCD_SERVER: undefined } });
    expect(noServer.exitCode).toBe(2);
    expect(noServer.stderr).toMatch(/^oscd: error\[bad-server-url\]: no control server named/);
    const noToken = await oscd(["rollout", "list", "--server", s.url], { env: { OSCD_SERVER_TOKEN: undefined } });
    expect(noToken.exitCode).toBe(2);
    expect(noToken.stderr).toMatch(/^oscd: error\[server-token\]/);
    const bad = await cli(["start", "main", "--waves", "@web; canary=web1"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/the canary comes first/);
    expect((await cli(["start", "main", "--bake", "soon"])).stderr).toMatch(/--bake "soon" is not a duration/);
  });

  it("start --dry-run names the release and waves a real start uses, and starts nothing", async () => {
    const r = await cli(["start", "main", "--waves", "canary=web1; @web; rest", "--bake", "0", "--dry-run", "--json"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { dryRun: true; steps: { action: string; target: string; detail: string }[] };
    expect(plan.steps).toEqual([{ action: "start rollout", target: s.url, detail: expect.stringMatching(/^main #2: .*web1.*@web.*bake 0s \(--waves\)$/) }]);
    expect((await cli(["list", "--json"])).stdout).toBe(JSON.stringify({ rollouts: [] }, null, 2) + "\n");
    // The audit log shows no rollout started (or anything else done) by the dry run.
    expect((await s.api("GET", "/api/v1/audit", { token: s.admin })).text).not.toContain("rollout.start");
  });

  it("starts a three-wave rollout of the newest release and shows it per wave and per host", async () => {
    const r = await cli(["start", "main", "--waves", "canary=web1; @web; rest", "--bake", "0", "--json"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const started = JSON.parse(r.stdout) as { id: string; sequence: number; bake_ms: number; waves: { name: string; hosts: string[] }[] };
    expect(started.sequence).toBe(2);
    expect(started.waves.map((w) => [w.name, w.hosts])).toEqual([
      ["canary", ["web1"]],
      ["wave 1 (@web)", ["web2", "web3"]],
      ["rest", ["db1"]],
    ]);
    let st = await cli(["status"]);
    expect(st.exitCode, st.stderr).toBe(0);
    expect(st.stdout).toMatch(new RegExp(`^rollout ${started.id}  main #2 \\(1\\.0\\.2\\)  running$`, "m"));
    expect(st.stdout).toMatch(/^ {2}1\. canary \[active\] started \d+s ago$/m);
    expect(st.stdout).toMatch(/^ {5}web1 +assigned/m);
    expect(st.stdout).toMatch(/^ {5}db1 +waiting$/m);
    // The canary's agent fetches its manifest: it is deploying.
    expect(JSON.parse((await fetchAs("web1")).text).sequence).toBe(2);
    await waitFor(async () => /^ {5}web1 +deploying/m.test((await cli(["status", started.id.slice(0, 6)])).stdout), 20_000, "web1 to show as deploying");
    st = await cli(["status", "--json"]);
    expect((JSON.parse(st.stdout) as { waves: { progress: { host: string; state: string }[] }[] }).waves[0]!.progress).toEqual([expect.objectContaining({ host: "web1", state: "deploying" })]);
  });

  it("--watch prints each change live; pause, resume and promote steer it; abort ends the watch with exit 1", async () => {
    const watcher = spawn(process.execPath, [OSCD_BIN, "rollout", "status", "--watch", "--server", s.url, "--server-token-file", tokenFile], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    watcher.stdout.on("data", (d: Buffer) => (out += d.toString()));
    watcher.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => watcher.once("exit", (c) => r(c)));
    await waitFor(async () => out.includes("web1: deploying"), 20_000, "the watch to show web1 deploying", async () => out + err);
    await report("web1", 2, "success");
    await waitFor(async () => /^ {2}web1: ok$/m.test(out) && /^wave 2 wave 1 \(@web\) \(web2, web3\): active$/m.test(out), 20_000, "the watch to show the canary healthy and wave 2 started", async () => out);
    const paused = await cli(["pause"]);
    expect(paused.exitCode, paused.stderr).toBe(0);
    // The reason names who paused it.
    expect(paused.stdout).toMatch(/: paused: paused by admin token [0-9a-f]{16} \(test\)$/m);
    await waitFor(async () => /rollout [0-9a-f]{8} paused: paused by admin token/.test(out), 20_000, "the watch to show the pause", async () => out);
    // Resuming a running rollout is refused by the server, with its code.
    expect((await cli(["resume"])).exitCode).toBe(0);
    const again = await cli(["resume"]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(/^oscd: error\[server-refused\]: .*refused: \[rollout-state\] rollout [0-9a-f]{16} is running; it cannot resume/m);
    // Promote: wave 2 ends now (no reports, no bake), the last wave starts.
    const promoted = await cli(["promote"]);
    expect(promoted.exitCode, promoted.stderr).toBe(0);
    await waitFor(async () => /^wave 3 rest \(db1\): active$/m.test(out), 20_000, "the watch to show the last wave started", async () => out);
    const aborted = await cli(["abort"]);
    expect(aborted.exitCode, aborted.stderr).toBe(0);
    expect(await exited).toBe(1);
    expect(err).toMatch(/rollout [0-9a-f]{8} ended aborted: aborted by admin token [0-9a-f]{16} \(test\)/);
    // A host that failed shows its cause, in the status of the rollout it failed in.
    await report("web2", 2, "rolled-back");
    expect((await cli(["status"])).stdout).toMatch(/^ {5}web2 +failed +\d+s ago +health check nginx\.service failed$/m);
  });

  it("lists rollouts; --immediate serves a release to every host; the channel's plan is used when no waves are given", async () => {
    const list = await cli(["list", "--json"]);
    const rs = (JSON.parse(list.stdout) as { rollouts: { state: string; sequence: number }[] }).rollouts;
    expect(rs.map((r) => [r.sequence, r.state])).toEqual([[2, "aborted"]]);
    expect((await cli(["list"])).stdout).toMatch(/^ID +RELEASE +STATE +WAVE +HOSTS OK +FAILED +STARTED +REASON$/m);
    await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 3, HOSTS)) });
    const imm = await cli(["start", "main", "--immediate"]);
    expect(imm.exitCode, imm.stderr).toBe(0);
    expect(imm.stdout).toBe("main #3: served to every host\n");
    for (const h of HOSTS) expect(JSON.parse((await fetchAs(h)).text).sequence).toBe(3);

    expect((await s.api("PUT", "/api/v1/channels/main/plan", { token: s.admin, body: { plan: { canary: ["db1"], bakeSeconds: 60, maxFailures: 2 }, source: "test" } })).status).toBe(200);
    expect((await cli(["plan", "main"])).stdout).toBe("main: canary=db1; rest, bake 1m, 2 failure(s) tolerated (from test)\n");
    await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 4, HOSTS)) });
    const fromPlan = JSON.parse((await cli(["start", "main#4", "--max-failures", "0", "--json"])).stdout) as { waves: { name: string; hosts: string[] }[]; bake_ms: number; max_failures: number };
    expect(fromPlan.waves.map((w) => w.name)).toEqual(["canary", "rest"]);
    expect(fromPlan.waves[0]!.hosts).toEqual(["db1"]);
    expect([fromPlan.bake_ms, fromPlan.max_failures]).toEqual([60_000, 0]);
    const busy = await cli(["start", "main#4"]);
    expect(busy.exitCode).toBe(1);
    expect(busy.stderr).toMatch(/\[rollout-busy\]/);
    expect(busy.stderr).toMatch(/^hint: see it with `oscd rollout status`/m);
    const seqs = async (args: string[]) => (JSON.parse((await cli(["list", "--json", ...args])).stdout) as { rollouts: { sequence: number }[] }).rollouts.map((r) => r.sequence);
    expect(await seqs([])).toEqual([4, 2]);
    expect(await seqs(["--limit", "1"])).toEqual([4]);
    expect((await cli(["list", "--limit", "0"])).exitCode).toBe(2);
  });

  it("oscd server audit lists what was done, by whom, through the CLI", async () => {
    const r = await oscd(["server", "audit", "--server", s.url, "--server-token-file", tokenFile, "--json"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const entries = (JSON.parse(r.stdout) as { entries: { action: string; actor: string; via: string; target: string }[] }).entries;
    // Newest first (actions within the same millisecond in either order).
    expect(entries[0]?.action).toBe("rollout.start");
    expect(entries.map((e) => e.action).sort()).toEqual(["plan.set", "release.add", "release.add", "release.add", "release.add", "release.to-all", "rollout.abort", "rollout.pause", "rollout.promote", "rollout.resume", "rollout.start", "rollout.start"]);
    expect(entries.filter((e) => e.action.startsWith("rollout.")).every((e) => e.via === "cli" && /^admin token [0-9a-f]{16} \(test\)$/.test(e.actor))).toBe(true);
    const text = await oscd(["server", "audit", "--server", s.url, "--server-token-file", tokenFile, "--limit", "2"]);
    expect(text.stdout.split("\n")[0]).toMatch(/^WHEN +WHO +ACTION +TARGET +VIA$/);
    expect(text.stdout).toMatch(/ rollout\.start +rollout [0-9a-f]{16} of main #4 +cli$/m);
  });
});
