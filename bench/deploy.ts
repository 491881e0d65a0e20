/**
 * `oscd deploy --parallel 10` to N SimHosts (switch, confirmed over a new SSH connection)
 * against a loop of the bare commands doing the same work per host (`nix copy` over ssh-ng,
 * `ssh … nix-env --set`, `ssh … switch-to-configuration switch`) run with the same parallelism
 * (`xargs -P 10`), in interleaved pairs (the order alternating). Each side deploys a release
 * of its own, so each copies a new toplevel to every host; the toplevels of both are built
 * before they are timed (oscd still pins the commit and evaluates the hosts: its own work).
 *
 * Measured per side: wall time; the deployer's CPU (user + system of the command and every
 * process it ran here: oscd, nix copy, ssh…) per host; and the CPU the hosts spent per host
 * (every process in their namespaces). The SimHosts share this machine's cores with the
 * deployer, so on a machine this size the hosts' CPU adds to the wall time; on a real fleet it
 * runs on the hosts. The bare loop's evaluation (`nix-build` of the same attributes, all built)
 * is measured on its own and shown beside it: oscd's side includes its evaluation.
 *
 *   npm run bench -- deploy [hosts=20] [rounds=3]
 *
 * Targets (issue 27): deployer CPU per host ≤ 1.5× the bare commands'; wall time ≤ 1.2× the
 * bare loop with the same parallelism.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../src/core/exec.js";
import { build } from "../src/nix/index.js";
import { clientKey, deployFleet, ensureBuilt, oscdDeploy, type DeployFleet, type SimHost } from "../test/harness/index.js";
import { TEST_NIX_CONFIG } from "../test/harness/nix-env.js";
import { Targets, machine, measure, median, medianOfRatios, type Cost } from "./_measure.js";

process.env.NIX_CONFIG = TEST_NIX_CONFIG;
const N = Number(process.argv[2] ?? 20);
const ROUNDS = Number(process.argv[3] ?? 3);
const PARALLEL = 10;
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

interface Sample extends Cost {
  hostCpuMs: number;
}

/** Wall time and deployer CPU of `work`, and the hosts' CPU it cost (read outside the timed part). */
async function measured(f: DeployFleet, work: () => Promise<{ exitCode: number | null; stderr: string } | void>): Promise<Sample> {
  const sum = async () => (await Promise.all(f.hosts.map(hostCpuMs))).reduce((a, b) => a + b, 0);
  const before = await sum();
  const cost = await measure(work);
  // The detached runners write their last status after the deployer saw it: let them end.
  await new Promise((r) => setTimeout(r, 1000));
  return { ...cost, hostCpuMs: ((await sum()) - before) / f.hosts.length };
}

/** Per host, as `xargs -P 10` runs it: copy, set the profile, switch. */
const PER_HOST = 'set -e; nix copy --no-check-sigs --to "ssh-ng://root@$1" "$2"; ssh $NIX_SSHOPTS "root@$1" "nix-env -p /nix/var/nix/profiles/system --set $2"; ssh $NIX_SSHOPTS "root@$1" "$2/bin/switch-to-configuration switch"';

async function headToplevels(f: DeployFleet): Promise<string[]> {
  return (await build(f.fleet.nixSource(await f.fleet.head()), f.hosts.map((h) => f.fleet.attr(h.name)))).map((b) => b.outPath);
}

async function bareLoop(f: DeployFleet): Promise<Sample> {
  const tops = await headToplevels(f);
  const key = await clientKey();
  const ssh = ["-i", key.privateKey, "-o", `UserKnownHostsFile=${key.knownHosts}`, "-o", "BatchMode=yes"];
  const input = f.hosts.map((h, i) => `${h.address} ${tops[i]}`).join("\n") + "\n";
  return measured(f, () => run("xargs", ["-P", String(PARALLEL), "-L", "1", "sh", "-c", PER_HOST, "bare"], { input, timeoutMs: 1_800_000, env: { NIX_SSHOPTS: ssh.join(" ") } }));
}


async function main(): Promise<void> {
  // The CLI is built before anything is timed (the harness builds it on first use otherwise).
  await ensureBuilt();
  const loadBefore = machine();
  const loadStart = loadavg()[0] ?? Infinity;
  const f = await deployFleet(Array.from({ length: N }, (_, i) => `b${i + 1}`));
  const state = await mkdtemp(join(tmpdir(), "oscd-bench-deploy-"));
  const bare: Sample[] = [];
  const oscd: Sample[] = [];
  const evaluations: Cost[] = [];
  let version = 1;
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const sides = [
        async () => {
          await f.fleet.release(`1.${version++}.0`);
          bare.push(await bareLoop(f));
          // The same hosts' evaluation and build, everything built: what oscd's pin + evaluate compares with.
          evaluations.push(await measure(async () => void (await headToplevels(f))));
        },
        async () => {
          await f.fleet.release(`1.${version++}.0`);
          await headToplevels(f);
          const r = await measured(f, async () => {
            const d = await oscdDeploy(f.fleet, ["--parallel", String(PARALLEL), "--json"], { stateDir: state });
            // --json puts a failure on stdout: keep it in the error.
            return { exitCode: d.exitCode, stderr: `${d.stderr}\n${d.stdout.slice(-3000)}` };
          });
          oscd.push(r);
        },
      ];
      for (const side of i % 2 === 0 ? sides : [...sides].reverse()) await side();
      process.stderr.write(`round ${i + 1}: bare ${bare.at(-1)?.wallMs.toFixed(0)} ms, oscd ${oscd.at(-1)?.wallMs.toFixed(0)} ms (${machine()})\n`);
    }
  } finally {
    await f.destroy();
    await rm(state, { recursive: true, force: true });
  }
  const m = (xs: Sample[], k: keyof Sample, per = 1) => (median(xs.map((c) => c[k])) / per).toFixed(0);
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(44) : c.padStart(12))).join(" ");
  console.log(`\npush deploy (switch) to ${N} SimHosts, --parallel ${PARALLEL} against xargs -P ${PARALLEL} of the bare commands, ${ROUNDS} interleaved pairs`);
  console.log(`(before: ${loadBefore}; after: ${machine()})\n`);
  console.log(row(["what", "wall ms", "deployer CPU/host", "host CPU/host"]));
  console.log(row([`bare: xargs -P ${PARALLEL} nix copy; ssh set; ssh switch`, m(bare, "wallMs"), m(bare, "cpuMs", N), m(bare, "hostCpuMs")]));
  console.log(row([`oscd deploy --parallel ${PARALLEL}`, m(oscd, "wallMs"), m(oscd, "cpuMs", N), m(oscd, "hostCpuMs")]));
  const wall = medianOfRatios(oscd.map((c) => c.wallMs), bare.map((c) => c.wallMs));
  const cpu = medianOfRatios(oscd.map((c) => c.cpuMs), bare.map((c) => c.cpuMs));
  const host = medianOfRatios(oscd.map((c) => c.hostCpuMs), bare.map((c) => c.hostCpuMs));
  console.log(row(["ratio oscd / bare (median of pair ratios)", wall.toFixed(2), cpu.toFixed(2), host.toFixed(2)]));
  console.log(row(["(nix build of the same hosts, all built)", median(evaluations.map((e) => e.wallMs)).toFixed(0), (median(evaluations.map((e) => e.cpuMs)) / N).toFixed(0), ""]));
  const targets = new Targets();
  targets.check("deployer CPU per host: oscd / bare", cpu, "<=", 1.5, { unit: "×" });
  // Wall time is judged only when the machine was not oversubscribed at either end of the run:
  // beyond that, other work's bursts land on one side of a pair more than the other.
  const cores = navigator.hardwareConcurrency;
  const quiet = Math.max(loadStart, loadavg()[0] ?? Infinity) <= cores;
  targets.check(`wall time to ${N} hosts: oscd / xargs -P ${PARALLEL}`, wall, "<=", 1.2, { unit: "×", judgeable: quiet, note: quiet ? "" : `load average above ${cores} CPUs: shown, not judged` });
  targets.print(`deploy to ${N} hosts`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
