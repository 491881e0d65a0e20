/**
 * The pull agent's reaction times and idle cost, on SimHosts running the built `oscd agent`:
 *
 * - git: a commit reaching main on a local-path remote → the host's new /run/current-system,
 *   beyond build time (the toplevel is built and imported beforehand, so the agent's build
 *   finds it: what is left is fetch, pin, evaluation and activation);
 * - manifest: a new signed manifest on the server → new /run/current-system, with long-poll and
 *   with plain polling (interval 2 s, no jitter); the toplevel is in the signed file cache;
 * - engine: the agent's in-process deployment (its log, `desired` → `deployed`) against
 *   the bare commands (`nix-store --realise; nix-env --set; switch-to-configuration switch`,
 *   timed inside the host) on a second host of the same run, in pairs (the bare one before or
 *   after each agent deployment, alternating); as the ratio of the medians and as the median
 *   of each pair's ratio, in wall time and in CPU time: the agent process's own and its reaped
 *   children's (utime + stime + cutime + cstime) from the manifest's publication until its
 *   `deployed` line, against the bare commands' (and the `nsenter` that starts them). The
 *   agent's side so also counts reading and checking the manifest: a bound from above;
 * - idle: the agent's RSS and CPU time over a period with nothing to do.
 *
 *   npx tsx bench/agent.ts [trials=20] [idleSeconds=60]
 *   OSCD_BENCH_DEBUG=1 … also prints the agent's steps of the last manifest deployment (stderr)
 */
import { mkdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { AGENT_NODE_OPTIONS } from "../src/agent/index.js";
import { serializeManifest, signManifest, type ManifestBody } from "../src/manifest/index.js";
import { build, copyTo, parseSecretKey, signPaths } from "../src/nix/index.js";
import { AgentProcess, FleetRepo, ManifestServer, SimHost, buildFakeToplevel, ensureBuilt, tempDir, testNetwork, uniqueMarker } from "../test/harness/index.js";
import { TEST_NIX_CONFIG } from "../test/harness/nix-env.js";
import { signedCache, stats } from "./_signed-host.js";
import { Targets, machine, measure, median, medianOfRatios } from "./_measure.js";

process.env.NIX_CONFIG = TEST_NIX_CONFIG;
const trials = Number(process.argv[2] ?? 20);
/** The agent starts as its service does: with the unit's NODE_OPTIONS (nix/module.nix). */
const SERVICE_ENV = { env: { NODE_OPTIONS: AGENT_NODE_OPTIONS } };
const idleSeconds = Number(process.argv[3] ?? 60);

/** Milliseconds until the host's /run/current-system is `want` (polled every 5 ms). */
async function until(h: SimHost, want: string, start: number, timeoutMs = 120_000): Promise<number> {
  const link = h.path("/run/current-system");
  for (;;) {
    if ((await readlink(link).catch(() => "")) === want) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`${h.name} did not reach ${want}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function gitTrials(): Promise<number[]> {
  const fleet = await FleetRepo.create({ hosts: [{ name: "bgit", marker: uniqueMarker() }] });
  const h = await SimHost.create({ name: "bgit" });
  const times: number[] = [];
  try {
    const agent = await AgentProcess.start(h, { hostname: "bgit", stateDir: "/var/lib/oscd", remotes: [{ name: "local", url: fleet.dir, poller: { period: 60 } }], exporter: { enable: false }, health: { retries: 0, systemdUnits: false } }, SERVICE_ENV);
    const first = (await build(fleet.nixSource(await fleet.head()), [fleet.attr("bgit")]))[0]!.outPath;
    await until(h, first, performance.now());
    for (let i = 0; i < trials; i++) {
      // Prepared on a side branch, built and imported; then main fast-forwards to it (the "commit").
      await fleet.git(["checkout", "-q", "-B", "prep", "main"]);
      const commit = await fleet.commitHostChange("bgit", uniqueMarker());
      const top = (await build(fleet.nixSource(commit), [fleet.attr("bgit")]))[0]!.outPath;
      await h.importFromMachine([top]);
      await fleet.git(["checkout", "-q", "main"]);
      const t = performance.now();
      await fleet.git(["merge", "-q", "--ff-only", "prep"]);
      times.push(await until(h, top, t));
    }
    await agent.kill("TERM");
  } finally {
    await h.destroy();
    await fleet.destroy();
  }
  return times;
}

interface ManifestRun {
  times: number[];
  engineMs: number[];
  bareMs: number[];
  engineCpuMs: number[];
  bareCpuMs: number[];
  idle?: { rssMiB: number; cpuPercent: number; seconds: number };
}

async function manifestTrials(dir: string, longPoll: boolean, measureIdle: boolean): Promise<ManifestRun> {
  await mkdir(join(dir, longPoll ? "lp" : "poll"), { recursive: true });
  const signed = await signedCache(join(dir, longPoll ? "lp" : "poll"));
  const key = parseSecretKey(await readFile(signed.keyFile, "utf8"));
  const root = join(dir, longPoll ? "srv-lp" : "srv-poll");
  await mkdir(join(root, "channels"), { recursive: true });
  const net = await testNetwork();
  const server = await ManifestServer.start(root, net.gateway);
  server.longPoll = longPoll;
  const h = await signed.host("bman", false);
  // The bare commands run on a host of their own, right after each agent deployment (the same
  // load), and on as many generations (the switch writes a boot entry per generation).
  const bare = await signed.host(longPoll ? "bbarelp" : "bbarepl", false);
  await bareDeploy(bare, await prepare());
  const out: ManifestRun = { times: [], engineMs: [], bareMs: [], engineCpuMs: [], bareCpuMs: [] };
  let sequence = 0;
  const publishManifest = async (toplevel: string) => {
    const now = new Date();
    const body: ManifestBody = {
      schema: "oscd.manifest/v1",
      channel: "main",
      sequence: ++sequence,
      version: "1.0.0",
      commit: "0".repeat(40),
      ref: "main",
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + 86_400_000).toISOString(),
      hosts: { bman: { toplevel, system: "x86_64-linux" } },
      caches: [signed.cache],
    };
    await writeFile(join(root, "channels", "main.json"), serializeManifest(signManifest(body, key)));
    server.changed();
  };
  async function prepare(): Promise<string> {
    const top = await buildFakeToplevel({ hostname: "bman", marker: `bench-${uniqueMarker()}` });
    await copyTo(signed.cache, [top]);
    await signPaths([top], signed.keyFile, { store: signed.cache, recursive: true });
    return top;
  }
  try {
    await publishManifest(await prepare());
    const agent = await AgentProcess.start(h, {
      hostname: "bman",
      trustedPublicKeys: [signed.publicKey],
      manifest: { urls: [server.url(net.gateway, "channels/main.json")], pollInterval: 2, randomizedDelaySec: 0, longPollSeconds: longPoll ? 55 : 0 },
      logLevel: process.env.OSCD_BENCH_DEBUG ? "debug" : "info",
      exporter: { enable: false },
      health: { retries: 0, systemdUnits: false },
    }, SERVICE_ENV);
    await agent.waitForLog((l) => l.event === "deployed" && l.outcome === "committed", 120_000);
    const bareOne = async () => {
      const next = await prepare();
      let ms = 0;
      out.bareCpuMs.push((await measure(async () => void (ms = await bareDeploy(bare, next)))).cpuMs);
      out.bareMs.push(ms);
    };
    for (let i = 0; i < trials; i++) {
      if (i % 2 === 1) await bareOne();
      const top = await prepare();
      // Let a held long-poll (or the poll timer) be in its steady state before publishing.
      await new Promise((r) => setTimeout(r, 200));
      const cpu0 = await agentCpuMs(h, agent.pid);
      const t = performance.now();
      await publishManifest(top);
      out.times.push(await until(h, top, t));
      const lines = await agent.lines();
      const start = lines.filter((l) => l.event === "desired" && l.toplevel === top).pop();
      const end = lines.find((l) => l.event === "deployed" && l.toplevel === top) ?? (await agent.waitForLog((l) => l.event === "deployed" && l.toplevel === top));
      out.engineCpuMs.push((await agentCpuMs(h, agent.pid)) - cpu0);
      if (!start || !end) throw new Error(`the agent's log has no desired/deployed lines for ${top}`);
      out.engineMs.push(Date.parse(String(end.time)) - Date.parse(String(start.time)));
      if (i % 2 === 0) await bareOne();
    }
    if (process.env.OSCD_BENCH_DEBUG) {
      const lines = await agent.lines();
      const last = lines.filter((l) => l.event === "desired").pop();
      const from = lines.indexOf(last as Record<string, unknown>);
      for (const l of lines.slice(from)) if (l.event !== "fetched") console.error(String(l.time).slice(17), l.event, l.step ?? "", String(l.detail ?? "").slice(0, 60));
    }
    if (measureIdle) out.idle = await idle(h, agent);
    await agent.kill("TERM");
  } finally {
    await h.destroy();
    await bare.destroy();
    await server.stop();
  }
  return out;
}

/** RSS (VmRSS) at the end and CPU time (utime+stime) used over `idleSeconds`, read in the host. */
async function idle(h: SimHost, agent: AgentProcess): Promise<{ rssMiB: number; cpuPercent: number; seconds: number }> {
  const ticks = async () => {
    const stat = (await h.sh(["cat", `/proc/${agent.pid}/stat`])).stdout;
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  };
  const hz = Number((await h.sh(["getconf", "CLK_TCK"])).stdout.trim()) || 100;
  const t0 = await ticks();
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const used = (await ticks()) - t0;
  const wall = (performance.now() - w0) / 1000;
  const rss = Number(/VmRSS:\s+(\d+)/.exec((await h.sh(["cat", `/proc/${agent.pid}/status`])).stdout)?.[1] ?? 0) / 1024;
  return { rssMiB: rss, cpuPercent: (used / hz / wall) * 100, seconds: Math.round(wall) };
}

/** CPU milliseconds of the agent process and its reaped children so far, read in the host. */
async function agentCpuMs(h: SimHost, pid: number): Promise<number> {
  const stat = (await h.sh(["cat", `/proc/${pid}/stat`])).stdout;
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
}

/** The bare commands of one deployment, timed in nanoseconds by the host's own clock. */
const BARE = 'set -e; a=$(date +%s%N); nix-store --realise "$1" --max-jobs 0 >/dev/null; nix-env -p /nix/var/nix/profiles/system --set "$1"; "$1/bin/switch-to-configuration" switch; b=$(date +%s%N); echo $((b - a))';

/** One bare deployment of `top` on `h` (substituted from the host's cache), in milliseconds. */
async function bareDeploy(h: SimHost, top: string): Promise<number> {
  const r = await h.sh(["sh", "-c", BARE, "bare", top]);
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return Number(r.stdout.trim()) / 1e6;
}

async function main(): Promise<void> {
  await ensureBuilt();
  const dir = await tempDir("bench-agent");
  const loadBefore = machine();
  try {
    const git = await gitTrials();
    const lp = await manifestTrials(dir, true, true);
    const poll = await manifestTrials(dir, false, false);
    const bare = [...lp.bareMs, ...poll.bareMs];
    const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(58) : c.padStart(10))).join(" ");
    const line = (what: string, xs: number[]) => {
      const s = stats(xs);
      console.log(row([what, String(xs.length), s.median.toFixed(0), s.max.toFixed(0)]));
    };
    console.log(`\noscd agent (${trials} trials each; before: ${loadBefore}; after: ${machine()})\n`);
    console.log(row(["what", "trials", "median ms", "worst ms"]));
    line("git: commit on local remote → new current-system (prebuilt)", git);
    line("manifest: publish → new current-system, long-poll", lp.times);
    line("manifest: publish → new current-system, polling every 2 s", poll.times);
    const engine = [...lp.engineMs, ...poll.engineMs];
    line("engine in the agent: realise + profile + switch + commit", engine);
    line("bare: nix-store --realise; nix-env --set; stc switch", bare);
    console.log(row(["ratio agent engine / bare (medians)", "", (stats(engine).median / stats(bare).median).toFixed(2), ""]));
    // Each agent deployment and the bare one after it ran seconds apart: their ratio cancels the
    // drift of a shared machine's speed over the run, which the ratio of medians does not.
    const paired = engine.map((e, i) => e / (bare[i] as number));
    console.log(row(["ratio agent engine / bare (median of pairs)", String(paired.length), stats(paired).median.toFixed(2), stats(paired).max.toFixed(2)]));
    const engineCpu = [...lp.engineCpuMs, ...poll.engineCpuMs];
    const bareCpu = [...lp.bareCpuMs, ...poll.bareCpuMs];
    console.log(row(["CPU ms: agent, publish → deployed (engine + manifest)", String(engineCpu.length), median(engineCpu).toFixed(0), Math.max(...engineCpu).toFixed(0)]));
    console.log(row(["CPU ms: bare commands", String(bareCpu.length), median(bareCpu).toFixed(0), Math.max(...bareCpu).toFixed(0)]));
    const cpuRatio = medianOfRatios(engineCpu, bareCpu);
    console.log(row(["CPU ratio agent / bare (median of pairs)", String(engineCpu.length), cpuRatio.toFixed(2), ""]));
    const targets = new Targets();
    targets.check("engine in the agent: CPU / bare commands", cpuRatio, "<=", 1.1, { unit: "×" });
    targets.check("engine in the agent: wall / bare commands", stats(paired).median, "<=", 1.1, { unit: "×", judgeable: false, note: "wall time on a shared machine: shown, not judged" });
    if (lp.idle) console.log(`\nidle agent over ${lp.idle.seconds} s (long-poll held): RSS ${lp.idle.rssMiB.toFixed(1)} MiB, CPU ${lp.idle.cpuPercent.toFixed(2)} %`);
    targets.print("agent");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
