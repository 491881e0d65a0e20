/**
 * `oscd deploy` to 1, 10 and 20 SimHosts (switch, confirmed over a new SSH connection) against
 * a sequential loop of the bare commands doing the same work per host (`nix copy` over
 * ssh-ng, `ssh … nix-env --set`, `ssh … switch-to-configuration switch`), in the same run.
 * Each side deploys a release of its own, so each copies a new toplevel to every host.
 *
 * Besides the wall time, the CPU the hosts spent per host (every process in their namespaces,
 * the reaped ones included): on a machine shared with other work, the wall time follows the
 * load; the CPU a deploy costs each host does not.
 *
 *   npx tsx bench/deploy.ts [sizes…]       (default: 1 10 20)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../src/core/exec.js";
import { build } from "../src/nix/index.js";
import { clientKey, deployFleet, ensureBuilt, oscdDeploy, type DeployFleet, type SimHost } from "../test/harness/index.js";
import { TEST_NIX_CONFIG } from "../test/harness/nix-env.js";
import { timed } from "./_signed-host.js";

process.env.NIX_CONFIG = TEST_NIX_CONFIG;
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const TICKS_PER_S = 100;

/**
 * CPU milliseconds spent in the host so far: utime + stime + cutime + cstime of every process
 * of its PID namespace (a process reaped by another counts in the reaper's cutime; its init
 * reaps nothing, so a finished detached runner stays as a zombie with its own times).
 */
async function hostCpuMs(h: SimHost): Promise<number> {
  const r = await h.exec(["sh", "-c", "for p in /proc/[0-9]*; do cat \"$p/stat\" 2>/dev/null; echo; done"]);
  let ticks = 0;
  for (const line of r.stdout.split("\n")) {
    if (!line.includes(")")) continue;
    const f = line.slice(line.lastIndexOf(")") + 2).split(" ");
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return (ticks * 1000) / TICKS_PER_S;
}

/** Wall time of `work` and the hosts' CPU per host it cost. */
async function measured(f: DeployFleet, work: () => Promise<{ exitCode: number | null; stderr: string } | void>): Promise<{ ms: number; hostCpuMs: number }> {
  const sum = async () => (await Promise.all(f.hosts.map(hostCpuMs))).reduce((a, b) => a + b, 0);
  const before = await sum();
  const ms = await timed(work);
  // The detached runners write their last status after the deployer saw it: let them end.
  await new Promise((r) => setTimeout(r, 1000));
  return { ms, hostCpuMs: ((await sum()) - before) / f.hosts.length };
}

async function bareLoop(f: DeployFleet): Promise<{ ms: number; hostCpuMs: number }> {
  const tops = await build(f.fleet.nixSource(await f.fleet.head()), f.hosts.map((h) => f.fleet.attr(h.name)));
  const key = await clientKey();
  const ssh = ["-i", key.privateKey, "-o", `UserKnownHostsFile=${key.knownHosts}`, "-o", "BatchMode=yes"];
  return measured(f, async () => {
    for (const [i, h] of f.hosts.entries()) {
      const top = tops[i]!.outPath;
      const steps = [
        () => run("nix", ["copy", "--no-check-sigs", "--to", `ssh-ng://root@${h.address}`, top], { timeoutMs: 600_000, env: { NIX_SSHOPTS: ssh.join(" ") } }),
        () => run("ssh", [...ssh, `root@${h.address}`, `nix-env -p /nix/var/nix/profiles/system --set ${top}`], { timeoutMs: 600_000 }),
        () => run("ssh", [...ssh, `root@${h.address}`, `${top}/bin/switch-to-configuration switch`], { timeoutMs: 600_000 }),
      ];
      // One after another, as a shell loop would.
      for (const step of steps) {
        const r = await step();
        if (r.exitCode !== 0) throw new Error(`${h.name}: ${r.command.join(" ")}: ${r.stderr}`);
      }
    }
  });
}

async function main(): Promise<void> {
  // The CLI is built before anything is timed (the harness builds it on first use otherwise).
  await ensureBuilt();
  const rows: string[][] = [];
  for (const n of sizes.length ? sizes : [1, 10, 20]) {
    const f = await deployFleet(Array.from({ length: n }, (_, i) => `b${i + 1}`));
    const state = await mkdtemp(join(tmpdir(), "oscd-bench-deploy-"));
    try {
      await f.fleet.release("1.1.0");
      const bare = await bareLoop(f);
      await f.fleet.release("1.2.0");
      // oscd builds too (pin, one evaluation, build of what is missing): the bare loop got its paths prebuilt.
      await build(f.fleet.nixSource(await f.fleet.head()), f.hosts.map((h) => f.fleet.attr(h.name)));
      const oscd = await measured(f, () => oscdDeploy(f.fleet, ["--parallel", "10", "--json"], { stateDir: state }));
      rows.push([String(n), bare.ms.toFixed(0), oscd.ms.toFixed(0), (oscd.ms / bare.ms).toFixed(2), bare.hostCpuMs.toFixed(0), oscd.hostCpuMs.toFixed(0)]);
    } finally {
      await f.destroy();
      await rm(state, { recursive: true, force: true });
    }
  }
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(6) : c.padStart(16))).join(" ");
  console.log("\npush deploy (switch) to N SimHosts: oscd deploy --parallel 10 against a sequential loop of bare commands\n");
  console.log(row(["hosts", "bare loop ms", "oscd deploy ms", "oscd / bare", "bare CPU/host", "oscd CPU/host"]));
  for (const r of rows) console.log(row(r));
  console.log("\n(CPU/host: milliseconds of CPU the deploy cost each host, all its processes together. SimHosts share this");
  console.log(" machine's cores with the deployer, so here the hosts' CPU adds to the wall time; on a real fleet it runs on the hosts.)");
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
