/**
 * `oscd activate` of a prebuilt toplevel against the bare commands doing the same work
 * (`nix-store --realise`, `nix-env --set`, `switch-to-configuration switch`), in the same run,
 * on two simulated hosts substituting from the same signed file cache.
 *
 *   npx tsx bench/activate.ts [rounds]
 */
import { rm, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { copyTo, formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf, signPaths } from "../src/nix/index.js";
import { SimHost, buildFakeToplevel, ensureBuilt, oscdOn, tempDir, uniqueMarker } from "../test/harness/index.js";
import { TEST_NIX_CONFIG } from "../test/harness/nix-env.js";

process.env.NIX_CONFIG = TEST_NIX_CONFIG;
const rounds = Number(process.argv[2] ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function timed(f: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

async function main(): Promise<void> {
  await ensureBuilt();
  const dir = await tempDir("bench-activate");
  const key = generateSecretKey("bench");
  await writeFile(join(dir, "key"), formatSecretKey(key), { mode: 0o600 });
  const cache = `file://${join(dir, "cache")}`;
  const pub = formatPublicKey(publicKeyOf(key));
  const bare = await SimHost.create({ name: "web1", substituters: [cache], trustedPublicKeys: [pub] });
  const withOscd = await SimHost.create({ name: "web1", substituters: [cache], trustedPublicKeys: [pub] });
  await mkdir(withOscd.path("/etc/oscd"), { recursive: true });
  await writeFile(withOscd.path("/etc/oscd/machine.toml"), `substituters = ["${cache}"]\ntrustedPublicKeys = ["${pub}"]\nhealth = { systemdUnits = false }\n`);
  const bareTimes: number[] = [];
  const oscdTimes: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      // Two distinct systems per round so neither side finds its path already in its store.
      const [a, b] = await Promise.all([buildFakeToplevel({ hostname: "web1", marker: `bench-a-${uniqueMarker()}` }), buildFakeToplevel({ hostname: "web1", marker: `bench-b-${uniqueMarker()}` })]);
      await copyTo(cache, [a, b]);
      await signPaths([a, b], join(dir, "key"), { store: cache, recursive: true });
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
  const mb = median(bareTimes);
  const mo = median(oscdTimes);
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
