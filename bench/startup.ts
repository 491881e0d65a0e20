/**
 * Start-up: `oscd --version`, `oscd status` and `oscd activate` of the system already running
 * (nothing to do but lock, recover, check and say so) against `node -e 0`, in the same run.
 * `--version` and `node -e 0` run on this machine; status and activate inside a simulated host
 * whose system oscd activated once, next to `node -e 0` in that host for the same overhead.
 *
 *   npx tsx bench/startup.ts [rounds]
 */
import { rm } from "node:fs/promises";
import { run } from "../src/core/exec.js";
import { copyTo, signPaths } from "../src/nix/index.js";
import { OSCD_BIN, buildFakeToplevel, ensureBuilt, oscdOn, tempDir, uniqueMarker } from "../test/harness/index.js";
import { signedCache, stats, timed } from "./_signed-host.js";
import { TEST_NIX_CONFIG } from "../test/harness/nix-env.js";

process.env.NIX_CONFIG = TEST_NIX_CONFIG;
const rounds = Number(process.argv[2] ?? 20);

async function main(): Promise<void> {
  await ensureBuilt();
  const dir = await tempDir("bench-startup");
  const signed = await signedCache(dir);
  const host = await signed.host("web1", true);
  const cases: [string, () => Promise<{ exitCode: number | null; stderr: string }>][] = [];
  try {
    const top = await buildFakeToplevel({ hostname: "web1", marker: `bench-startup-${uniqueMarker()}` });
    await copyTo(signed.cache, [top]);
    await signPaths([top], signed.keyFile, { store: signed.cache, recursive: true });
    const first = await oscdOn(host, ["activate", "--quiet", top]);
    if (first.exitCode !== 0) throw new Error(first.stderr);
    cases.push(
      ["node -e 0", () => run("node", ["-e", "0"], { timeoutMs: 30_000 })],
      ["oscd --version", () => run("node", [OSCD_BIN, "--version"], { timeoutMs: 30_000 })],
      ["oscd --help", () => run("node", [OSCD_BIN, "--help"], { timeoutMs: 30_000 })],
      ["in a host: node -e 0", () => host.exec(["node", "-e", "0"])],
      ["in a host: oscd status", () => oscdOn(host, ["status"])],
      ["in a host: oscd activate (unchanged)", () => oscdOn(host, ["activate", "--quiet", top])],
    );
    const times = new Map<string, number[]>(cases.map(([name]) => [name, []]));
    // Interleaved rounds, so a busy moment of the machine falls on every case alike.
    for (let i = 0; i < rounds; i++) for (const [name, f] of cases) times.get(name)?.push(await timed(f));
    const base = stats(times.get("node -e 0") ?? []).median;
    const hostBase = stats(times.get("in a host: node -e 0") ?? []).median;
    const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(38) : c.padStart(10))).join(" ");
    console.log(`\nstart-up (${rounds} interleaved rounds; ratio against node -e 0 in the same place)\n`);
    console.log(row(["what", "median ms", "min ms", "max ms", "ratio"]));
    for (const [name, xs] of times) {
      const s = stats(xs);
      const ref = name.startsWith("in a host") ? hostBase : base;
      console.log(row([name, s.median.toFixed(0), s.min.toFixed(0), s.max.toFixed(0), (s.median / ref).toFixed(2)]));
    }
  } finally {
    await host.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
