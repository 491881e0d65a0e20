/**
 * How fast a rollout reaches its hosts: 20 SimHosts run the built `oscd agent` against an
 * in-process `oscd server`, long-polling their manifest with their own token; a release is
 * uploaded (it waits), then `oscd rollout start` (the built CLI) starts a one-wave rollout of
 * every host. Per host, from the command's start (`t0`):
 *
 * - reaction: until the agent has the release and starts deploying it (its `desired` event):
 *   everything the rollout adds before the activation (the CLI's start, the server's wave, the
 *   long-poll answer, the agent's guards); also from the wave's start as the server recorded it
 *   (the request's arrival), which leaves out the CLI's own start;
 * - activation: the agent's own deployment, `desired` → `deployed` (realise, profile, switch,
 *   health, commit), which the rollout cannot make faster;
 * - total: until `/run/current-system` is the new system (polled every 5 ms).
 *
 * Three kinds of run, side by side in one run:
 * - first release: the channel has no release for anyone yet (the agents wait on the server's
 *   "nothing for you yet" answer, issue 22), then a rollout starts;
 * - next release: a rollout of a newer release, every host holding the previous one;
 * - baseline: the same newer-release step released to every host at once
 *   (`oscd rollout start --immediate`), the path a release took before rollouts were reachable.
 *
 *   npm run bench -- rollout [HOSTS=20] [TRIALS=3]
 *
 * Target (issue 22): beyond the activation itself (the reaction), p50 ≤ 1 s and worst ≤ 2 s.
 */
import { spawn } from "node:child_process";
import { mkdir, readlink, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AGENT_NODE_OPTIONS } from "../src/agent/index.js";
import { serializeManifest, signManifest, type ManifestBody } from "../src/manifest/index.js";
import { copyTo, parseSecretKey, publicKeyOf, signPaths } from "../src/nix/index.js";
import { readFile } from "node:fs/promises";
import { createToken, startServer, type RunningServer } from "../src/server/index.js";
import { AgentProcess, OSCD_BIN, SimHost, buildFakeToplevel, ensureBuilt, tempDir, testNetwork, uniqueMarker } from "../test/harness/index.js";
import { TEST_NIX_CONFIG } from "../test/harness/nix-env.js";
import { signedCache, type SignedCache } from "./_signed-host.js";

process.env.NIX_CONFIG = TEST_NIX_CONFIG;
const HOSTS = Number(process.argv[2] ?? 20);
const TRIALS = Number(process.argv[3] ?? 3);
const SERVICE_ENV = { env: { NODE_OPTIONS: AGENT_NODE_OPTIONS } };

interface Sample {
  reactionMs: number;
  /** From the wave's start (the server's record of the request), without the CLI's own start. */
  fromWaveMs: number;
  activationMs: number;
  totalMs: number;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

/** Runs the built CLI; resolves when it exits 0. */
function cli(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [OSCD_BIN, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`oscd ${args.slice(0, 3).join(" ")} exited ${code}: ${err}`))));
  });
}

class Fleet {
  sequence = 0;
  constructor(
    readonly server: RunningServer,
    readonly admin: string,
    readonly operatorFile: string,
    readonly signed: SignedCache,
    readonly key: ReturnType<typeof parseSecretKey>,
    readonly hosts: SimHost[],
    readonly agents: AgentProcess[],
  ) {}

  /** A new system for every host, in the signed cache, uploaded as the next release (it waits for a rollout). */
  async release(): Promise<Record<string, string>> {
    const tops: Record<string, string> = {};
    const marker = uniqueMarker();
    for (const h of this.hosts) tops[h.name] = await buildFakeToplevel({ hostname: h.name, marker: `bench-${marker}` });
    await copyTo(this.signed.cache, Object.values(tops));
    await signPaths(Object.values(tops), this.signed.keyFile, { store: this.signed.cache, recursive: true });
    const now = new Date();
    const body: ManifestBody = {
      schema: "oscd.manifest/v1",
      channel: "main",
      sequence: ++this.sequence,
      version: `1.0.${this.sequence}`,
      commit: this.sequence.toString(16).padStart(40, "0"),
      ref: "main",
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + 86_400_000).toISOString(),
      hosts: Object.fromEntries(Object.entries(tops).map(([n, t]) => [n, { toplevel: t, system: "x86_64-linux" }])),
      caches: [this.signed.cache],
    };
    const res = await fetch(`${this.server.url}/api/v1/releases`, { method: "POST", headers: { authorization: `Bearer ${this.admin}`, "content-type": "application/json" }, body: serializeManifest(signManifest(body, this.key)) });
    if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
    return tops;
  }

  /** Starts the release (a one-wave rollout, or to every host at once) and times each host. */
  async measure(tops: Record<string, string>, how: "rollout" | "immediate"): Promise<Sample[]> {
    // Every agent holds its long-poll in its steady state before the command starts.
    await new Promise((r) => setTimeout(r, 1500));
    const seen = await Promise.all(this.agents.map(async (a) => (await a.lines()).length));
    const t0 = Date.now();
    const command = how === "rollout" ? ["rollout", "start", `main#${this.sequence}`, "--waves", "all", "--bake", "0"] : ["rollout", "start", `main#${this.sequence}`, "--immediate"];
    const started = cli([...command, "--server", this.server.url, "--server-token-file", this.operatorFile]);
    const reached = await Promise.all(
      this.hosts.map(async (h) => {
        const link = h.path("/run/current-system");
        for (;;) {
          if ((await readlink(link).catch(() => "")) === tops[h.name]) return Date.now();
          if (Date.now() - t0 > 180_000) throw new Error(`${h.name} did not reach its new system`);
          await new Promise((r) => setTimeout(r, 5));
        }
      }),
    );
    await started;
    const auth = { headers: { authorization: `Bearer ${this.admin}` } };
    const waveAt =
      how === "rollout"
        ? ((await (await fetch(`${this.server.url}/api/v1/rollouts`, auth)).json()) as { rollouts: { waves: { startedAt: number }[] }[] }).rollouts[0]!.waves[0]!.startedAt
        : ((await (await fetch(`${this.server.url}/api/v1/audit?limit=1`, auth)).json()) as { entries: { at: number }[] }).entries[0]!.at;
    return Promise.all(
      this.agents.map(async (a, i) => {
        const top = tops[this.hosts[i]!.name];
        const deployed = await a.waitForLog((l) => l.event === "deployed" && l.toplevel === top, 60_000);
        const lines = (await a.lines()).slice(seen[i]);
        const desired = lines.find((l) => l.event === "desired" && l.toplevel === top);
        if (!desired) throw new Error(`no desired event for ${top}`);
        const d = Date.parse(String(desired.time));
        const activationMs = Date.parse(String(deployed.time)) - d;
        const totalMs = reached[i]! - t0;
        return { reactionMs: d - t0, fromWaveMs: d - waveAt, activationMs, totalMs };
      }),
    );
  }
}

async function main(): Promise<void> {
  await ensureBuilt();
  const dir = await tempDir("bench-rollout");
  const net = await testNetwork();
  const signed = await signedCache(dir);
  const key = parseSecretKey(await readFile(signed.keyFile, "utf8"));
  const server = await startServer({ db: `sqlite:${join(dir, "server.db")}`, trusted: [publicKeyOf(key)], listen: `${net.gateway}:0`, tickMs: 1000 });
  const admin = (await createToken(server.ctx.db, { kind: "admin" })).token;
  const operatorFile = join(dir, "operator.token");
  await writeFile(operatorFile, (await createToken(server.ctx.db, { kind: "operator" }, "bench")).token + "\n", { mode: 0o600 });
  const hosts: SimHost[] = [];
  const agents: AgentProcess[] = [];
  try {
    for (let i = 0; i < HOSTS; i++) {
      const name = `ro${i}`;
      const h = await signed.host(name, false);
      hosts.push(h);
      const token = (await createToken(server.ctx.db, { kind: "host", host: name, channel: "main" })).token;
      await mkdir(h.path("/root"), { recursive: true });
      await writeFile(h.path("/root/server-token"), token + "\n", { mode: 0o600 });
      agents.push(
        await AgentProcess.start(
          h,
          {
            hostname: name,
            trustedPublicKeys: [signed.publicKey],
            // The module's shape: the server and the token's file (reports go there too).
            server: { url: server.url, tokenFile: "/root/server-token", channel: "main" },
            // Plain polling every minute, backoff from 15 s: only the long-poll can make it fast.
            manifest: { pollInterval: 60, randomizedDelaySec: 0, longPollSeconds: 55 },
            reports: { retryInterval: 1 },
            exporter: { enable: false },
            health: { retries: 0, systemdUnits: false },
          },
          SERVICE_ENV,
        ),
      );
    }
    const fleet = new Fleet(server, admin, operatorFile, signed, key, hosts, agents);
    // The agents start with nothing for them on the server: they wait (no backoff).
    await Promise.all(agents.map((a) => a.waitForLog((l) => l.event === "fetched" && l.status === "none", 60_000)));
    const first = await fleet.measure(await fleet.release(), "rollout");
    const next: Sample[] = [];
    const base: Sample[] = [];
    for (let t = 0; t < TRIALS; t++) {
      next.push(...(await fleet.measure(await fleet.release(), "rollout")));
      base.push(...(await fleet.measure(await fleet.release(), "immediate")));
    }
    const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(44) : c.padStart(10))).join(" ");
    const ms = (x: number) => (x / 1000).toFixed(2);
    console.log(`\nrollout reach: ${HOSTS} agents (SimHosts, long-poll), one wave of every host; seconds from the command's start\n`);
    console.log(row(["run", "samples", "reaction", "reaction", "from wave", "from wave", "activ.", "total", "total"]));
    console.log(row(["", "", "p50", "worst", "p50", "worst", "p50", "p50", "worst"]));
    for (const [what, xs] of [
      ["first release (hosts waited with nothing)", first],
      ["next release (wave start)", next],
      ["baseline: --immediate (no rollout)", base],
    ] as const) {
      const r = xs.map((x) => x.reactionMs);
      const w = xs.map((x) => x.fromWaveMs);
      console.log(row([what, String(xs.length), ms(quantile(r, 0.5)), ms(Math.max(...r)), ms(quantile(w, 0.5)), ms(Math.max(...w)), ms(quantile(xs.map((x) => x.activationMs), 0.5)), ms(quantile(xs.map((x) => x.totalMs), 0.5)), ms(Math.max(...xs.map((x) => x.totalMs)))]));
    }
    const verdict = (what: string, xs: number[]) => {
      const p50 = quantile(xs, 0.5);
      const worst = Math.max(...xs);
      console.log(`beyond the activation itself, rollouts, ${what}: p50 ${ms(p50)} s (target ≤ 1), worst ${ms(worst)} s (target ≤ 2): ${p50 <= 1000 && worst <= 2000 ? "met" : "NOT met"}`);
    };
    console.log("");
    verdict("from `oscd rollout start`", [...first, ...next].map((x) => x.reactionMs));
    verdict("from the wave's start", [...first, ...next].map((x) => x.fromWaveMs));
    console.log(`load average at the end: ${(await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" ")}`);
  } finally {
    for (const a of agents) await a.kill("KILL").catch(() => undefined);
    for (const h of hosts) await h.destroy().catch(() => undefined);
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
