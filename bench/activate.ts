/**
 * `oscd activate` of a prebuilt toplevel against the bare commands doing the same work
 * (`nix-store --realise`, `nix-env --set`, `switch-to-configuration switch`), in the same run,
 * on two simulated hosts substituting from the same signed file cache.
 *
 * Interleaved pairs (the order alternating), each side on a system of its own; CPU time (user
 * + system of every process each side ran, Node's start included for oscd) beside wall time,
 * as the median of the pairs' ratios. No target here: the engine's target is judged in the
 * agent (bench/agent.ts), where no Node process starts per deployment.
 *
 *   npm run bench -- activate [rounds=8]
 */
import { rm } from "node:fs/promises";
import { copyTo, signPaths } from "../src/nix/index.js";
import { buildFakeToplevel, ensureBuilt, oscdOn, tempDir, uniqueMarker } from "../test/harness/index.js";
import { signedCache } from "./_signed-host.js";
import { machine, measure, median, medianOfRatios, type Cost } from "./_measure.js";
import { TEST_NIX_CONFIG } from "../test/harness/nix-env.js";

process.env.NIX_CONFIG = TEST_NIX_CONFIG;
const rounds = Number(process.argv[2] ?? 8);

async function main(): Promise<void> {
  await ensureBuilt();
  const dir = await tempDir("bench-activate");
  const signed = await signedCache(dir);
  const bare = await signed.host("web1", false);
  const withOscd = await signed.host("web1", true);
  const bareCost: Cost[] = [];
  const oscdCost: Cost[] = [];
  const loadBefore = machine();
  try {
    for (let i = 0; i < rounds; i++) {
      // Two distinct systems per round so neither side finds its path already in its store.
      const [a, b] = await Promise.all([buildFakeToplevel({ hostname: "web1", marker: `bench-a-${uniqueMarker()}` }), buildFakeToplevel({ hostname: "web1", marker: `bench-b-${uniqueMarker()}` })]);
      await copyTo(signed.cache, [a, b]);
      await signPaths([a, b], signed.keyFile, { store: signed.cache, recursive: true });
      const sides = [
        async () =>
          bareCost.push(
            await measure(async () => {
              for (const argv of [["nix-store", "--realise", a, "--max-jobs", "0"], ["nix-env", "-p", "/nix/var/nix/profiles/system", "--set", a], [`${a}/bin/switch-to-configuration`, "switch"]]) {
                const r = await bare.sh(argv);
                if (r.exitCode !== 0) return r;
              }
            }),
          ),
        async () => oscdCost.push(await measure(() => oscdOn(withOscd, ["activate", "--quiet", b]))),
      ];
      // Alternating the order keeps a warm cache or a just-freed core from favouring one side.
      for (const side of i % 2 === 0 ? sides : [...sides].reverse()) await side();
    }
  } finally {
    await bare.destroy();
    await withOscd.destroy();
    await rm(dir, { recursive: true, force: true });
  }
  const m = (xs: Cost[], k: keyof Cost) => median(xs.map((c) => c[k])).toFixed(0);
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(52) : c.padStart(10))).join(" ");
  console.log(`\nactivate a prebuilt toplevel from a signed file cache (${rounds} interleaved pairs, medians)`);
  console.log(`(before: ${loadBefore}; after: ${machine()})\n`);
  console.log(row(["what", "CPU ms", "wall ms"]));
  console.log(row(["bare: nix-store --realise; nix-env --set; stc", m(bareCost, "cpuMs"), m(bareCost, "wallMs")]));
  console.log(row(["oscd activate (Node start, journal, guard, health)", m(oscdCost, "cpuMs"), m(oscdCost, "wallMs")]));
  const cpu = medianOfRatios(oscdCost.map((c) => c.cpuMs), bareCost.map((c) => c.cpuMs));
  const wall = medianOfRatios(oscdCost.map((c) => c.wallMs), bareCost.map((c) => c.wallMs));
  console.log(row(["ratio oscd / bare (median of pair ratios)", cpu.toFixed(2), wall.toFixed(2)]));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
