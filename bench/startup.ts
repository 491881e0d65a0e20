/**
 * Start-up: `oscd --version`, `oscd --help`, `oscd status` and `oscd activate` of the system
 * already running (nothing to do but lock, recover, check and say so) against `node -e 0`, in
 * the same run. `--version`, `--help` and their `node -e 0` run on this machine; status and
 * activate inside a simulated host whose system oscd activated once, next to `node -e 0` in that
 * host (the same `nsenter` on both sides of each pair).
 *
 * Each case runs in pairs with its `node -e 0` (interleaved, the order alternating), and the
 * result is the median of the pairs' ratios, in CPU time (user + system of the command and every
 * process it ran) and in wall time. CPU time is what the targets judge: on a shared machine the
 * wall time of a 30 ms command follows the load more than the command.
 *
 *   npm run bench -- startup [rounds=20]
 *
 * Targets (issue 27): `oscd status` and `oscd activate` with nothing to do ≤ 2× `node -e 0`.
 * oscd runs as installed: the bundle (dist/bundle/) with Node's compile cache in the host's
 * ~/.cache/oscd, warm after the first run, as for a user's second and later commands; the
 * activation without it (a first run after an install) is shown beside, not judged.
 */
import { rm } from "node:fs/promises";
import { run } from "../src/core/exec.js";
import { copyTo, signPaths } from "../src/nix/index.js";
import { OSCD_BIN, buildFakeToplevel, ensureBuilt, oscdOn, tempDir, uniqueMarker } from "../test/harness/index.js";
import { signedCache } from "./_signed-host.js";
import { Targets, machine, measure, median, medianOfRatios, pairs, type Cost } from "./_measure.js";
import { TEST_NIX_CONFIG } from "../test/harness/nix-env.js";

process.env.NIX_CONFIG = TEST_NIX_CONFIG;
const rounds = Number(process.argv[2] ?? 20);

type Cmd = () => Promise<{ exitCode: number | null; stderr: string }>;

async function main(): Promise<void> {
  await ensureBuilt();
  const dir = await tempDir("bench-startup");
  const signed = await signedCache(dir);
  const host = await signed.host("web1", true);
  try {
    const top = await buildFakeToplevel({ hostname: "web1", marker: `bench-startup-${uniqueMarker()}` });
    await copyTo(signed.cache, [top]);
    await signPaths([top], signed.keyFile, { store: signed.cache, recursive: true });
    const first = await oscdOn(host, ["activate", "--quiet", top]);
    if (first.exitCode !== 0) throw new Error(first.stderr);
    const here: Cmd = () => run("node", ["-e", "0"], { timeoutMs: 30_000 });
    const inHost: Cmd = () => host.exec(["node", "-e", "0"]);
    const cases: [string, Cmd, Cmd][] = [
      ["oscd --version", () => run("node", [OSCD_BIN, "--version"], { timeoutMs: 30_000 }), here],
      ["oscd --help", () => run("node", [OSCD_BIN, "--help"], { timeoutMs: 30_000 }), here],
      ["in a host: oscd status", () => oscdOn(host, ["status"]), inHost],
      ["in a host: oscd activate (unchanged)", () => oscdOn(host, ["activate", "--quiet", top]), inHost],
      // A first run after an install or upgrade: Node compiles the bundle without its cache.
      ["in a host: activate, no compile cache", () => oscdOn(host, ["activate", "--quiet", top], { env: { NODE_DISABLE_COMPILE_CACHE: "1" } }), inHost],
    ];
    const loadBefore = machine();
    const results: { name: string; oscd: Cost[]; base: Cost[] }[] = [];
    for (const [name, oscd, base] of cases) {
      const { a, b } = await pairs(rounds, () => measure(oscd), () => measure(base));
      results.push({ name, oscd: a, base: b });
    }
    const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(38) : c.padStart(11))).join(" ");
    console.log(`\nstart-up: ${rounds} interleaved pairs per case against node -e 0 in the same place`);
    console.log(`(before: ${loadBefore}; after: ${machine()})\n`);
    console.log(row(["what", "CPU ms", "base CPU", "CPU ratio", "wall ms", "base wall", "wall ratio"]));
    const targets = new Targets();
    for (const r of results) {
      const cpu = medianOfRatios(r.oscd.map((c) => c.cpuMs), r.base.map((c) => c.cpuMs));
      const wall = medianOfRatios(r.oscd.map((c) => c.wallMs), r.base.map((c) => c.wallMs));
      const m = (xs: Cost[], k: keyof Cost) => median(xs.map((c) => c[k])).toFixed(0);
      console.log(row([r.name, m(r.oscd, "cpuMs"), m(r.base, "cpuMs"), cpu.toFixed(2), m(r.oscd, "wallMs"), m(r.base, "wallMs"), wall.toFixed(2)]));
      if ((r.name.includes("status") || r.name.includes("activate")) && !r.name.includes("no compile cache")) {
        targets.check(`${r.name.replace("in a host: ", "")}: CPU / node -e 0`, cpu, "<=", 2, { digits: 2, unit: "×" });
        targets.check(`${r.name.replace("in a host: ", "")}: wall / node -e 0`, wall, "<=", 2, { digits: 2, unit: "×", judgeable: false, note: "wall time on a shared machine: shown, not judged" });
      }
    }
    console.log("\n(CPU: user + system of the command and all it ran, 10 ms ticks, median of pair ratios; a host's nsenter counts on both sides)");
    targets.print("start-up");
  } finally {
    await host.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
