/**
 * `oscd activate` of a prebuilt toplevel against the bare commands doing the same work
 * (`nix-store --realise`, `nix-env --set`, `switch-to-configuration switch`), in the same run,
 * on two simulated hosts substituting from the same signed file cache.
 *
 *   npx tsx bench/activate.ts [rounds]
 */
import { rm } from "node:fs/promises";
import { copyTo, signPaths } from "../src/nix/index.js";
import { buildFakeToplevel, ensureBuilt, oscdOn, tempDir, uniqueMarker } from "../test/harness/index.js";
import { signedCache, stats, timed } from "./_signed-host.js";
import { TEST_NIX_CONFIG } from "../test/harness/nix-env.js";

process.env.NIX_CONFIG = TEST_NIX_CONFIG;
const rounds = Number(process.argv[2] ?? 5);

async function main(): Promise<void> {
  await ensureBuilt();
  const dir = await tempDir("bench-activate");
  const signed = await signedCache(dir);
  const bare = await signed.host("web1", false);
  const withOscd = await signed.host("web1", true);
  const bareTimes: number[] = [];
  const oscdTimes: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      // Two distinct systems per round so neither side finds its path already in its store.
      const [a, b] = await Promise.all([buildFakeToplevel({ hostname: "web1", marker: `bench-a-${uniqueMarker()}` }), buildFakeToplevel({ hostname: "web1", marker: `bench-b-${uniqueMarker()}` })]);
      await copyTo(signed.cache, [a, b]);
      await signPaths([a, b], signed.keyFile, { store: signed.cache, recursive: true });
      bareTimes.push(
        await timed(async () => {
          await bare.sh(["nix-store", "--realise", a, "--max-jobs", "0"]);
          await bare.sh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--set", a]);
          await bare.sh([`${a}/bin/switch-to-configuration`, "switch"]);
        }),
      );
      oscdTimes.push(
        await timed(async () => {
          const r = await oscdOn(withOscd, ["activate", "--quiet", b]);
          if (r.exitCode !== 0) throw new Error(r.stderr);
        }),
      );
    }
  } finally {
    await bare.destroy();
    await withOscd.destroy();
    await rm(dir, { recursive: true, force: true });
  }
  const mb = stats(bareTimes).median;
  const mo = stats(oscdTimes).median;
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(44) : c.padStart(10))).join(" ");
  console.log(`\nactivate a prebuilt toplevel from a signed file cache (${rounds} rounds, median)\n`);
  console.log(row(["what", "median ms", "min ms", "max ms"]));
  console.log(row(["bare: nix-store --realise; nix-env --set; stc", mb.toFixed(0), Math.min(...bareTimes).toFixed(0), Math.max(...bareTimes).toFixed(0)]));
  console.log(row(["oscd activate (journal, guard, health)", mo.toFixed(0), Math.min(...oscdTimes).toFixed(0), Math.max(...oscdTimes).toFixed(0)]));
  console.log(row(["ratio oscd / bare", (mo / mb).toFixed(2), "", ""]));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
