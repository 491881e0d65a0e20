/**
 * `oscd publish` of N hosts against the bare commands doing the same work, in the same run:
 * `nix-build` of all host attributes, `nix store sign --recursive`, `nix copy` to a file cache.
 * Each side gets a fleet of its own (distinct markers and kernel versions), so neither finds
 * anything already built. oscd also pins the commit (git mirror, snapshot into the store),
 * checks what the cache has (one query per cache, compared path by path with the local
 * store), and writes the signed manifest; "again" is a second publish of the same commit
 * (nothing to build or upload); "unsigned" publishes the same commit to a cache that holds
 * every path without a fleet signature, so each narinfo is read, compared with the local
 * path and signed in place.
 *
 *   npx tsx bench/publish.ts [N ...]        (default: 1 10 50)
 */
import { randomInt } from "node:crypto";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { run } from "../src/core/exec.js";
import { formatSecretKey, generateSecretKey } from "../src/nix/index.js";
import { parseManifest } from "../src/publish/index.js";
import { FleetRepo, OSCD_BIN, ensureBuilt, tempDir, uniqueMarker } from "../test/harness/index.js";
import { TEST_NIX_CONFIG } from "../test/harness/nix-env.js";
import { childrenCpuMs, machine } from "./_measure.js";

process.env.NIX_CONFIG = TEST_NIX_CONFIG;
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const NS = sizes.length > 0 ? sizes : [1, 10, 50];

async function must(file: string, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  const r = await run(file, args, { timeoutMs: 1_800_000, cwd: opts.cwd });
  if (r.exitCode !== 0) throw new Error(`${file} ${args.slice(0, 4).join(" ")} … exited ${r.exitCode}: ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

/** Seconds `f` took, with the CPU seconds of everything it ran (see _measure.ts). */
let lastCpuS = 0;
async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const c = childrenCpuMs();
  const t = performance.now();
  const v = await f();
  lastCpuS = (childrenCpuMs() - c) / 1000;
  return [(performance.now() - t) / 1000, v];
}

/** A classic-layout fleet of n fake hosts that shares nothing already built with any other. */
async function freshFleet(n: number): Promise<FleetRepo> {
  const marker = uniqueMarker();
  const kernelVersion = `6.1.${randomInt(1_000_000)}`;
  const names = Array.from({ length: n }, (_, i) => `h${String(i + 1).padStart(3, "0")}`);
  const repo = await FleetRepo.create({ layout: "classic", hosts: names.map((name) => ({ name, marker, kernelVersion })) });
  await repo.commitFile("oscd.toml", `[fleet]\nattribute = "hosts.{host}"\n${names.map((h) => `[hosts.${h}]`).join("\n")}\n`);
  return repo;
}

function fmt(s: number): string {
  return s.toFixed(2);
}

async function main(): Promise<void> {
  await ensureBuilt();
  const dir = await tempDir("bench-publish");
  const keyFile = join(dir, "bench.secret");
  await writeFile(keyFile, formatSecretKey(generateSecretKey("bench")), { mode: 0o600 });
  const rows: string[][] = [["N", "oscd s", "bare s", "ratio", "oscd CPU s", "bare CPU s", "CPU ratio", "oscd s/host", "bare s/host", "oscd again s", "unsigned s"]];
  const loadBefore = machine();
  const repos: FleetRepo[] = [];
  try {
    for (const n of NS) {
      const [forOscd, forBare] = [await freshFleet(n), await freshFleet(n)];
      repos.push(forOscd, forBare);
      const oscdCache = join(dir, `cache-oscd-${n}`);
      const bareCache = join(dir, `cache-bare-${n}`);
      const publishArgs = [OSCD_BIN, "publish", "--repo", forOscd.dir, "--sign-key", keyFile, "--cache", `file://${oscdCache}`, "--state-dir", join(dir, "state"), "--roots-dir", join(dir, "roots"), "--json"];

      const [oscdS, out] = await timed(() => must("node", publishArgs));
      const oscdCpuS = lastCpuS;
      const summary = JSON.parse(out) as { status: string; hosts: { build: string }[] };
      const manifest = parseManifest(await readFile(join(oscdCache, "channels", "main.json"), "utf8"));
      if (summary.status !== "written" || Object.keys(manifest.hosts).length !== n || summary.hosts.some((h) => h.build !== "built")) {
        throw new Error(`oscd publish of ${n} hosts did not build and publish them all: ${out.slice(0, 500)}`);
      }
      const [againS] = await timed(() => must("node", publishArgs));

      // A cache that has every path, unsigned (as if someone without the key had copied them).
      const unsignedCache = join(dir, `cache-unsigned-${n}`);
      await must("nix", ["copy", "--to", `file://${unsignedCache}`, ...Object.values(manifest.hosts).map((h) => h.toplevel)]);
      for (const f of (await readdir(unsignedCache)).filter((f) => f.endsWith(".narinfo"))) {
        const text = await readFile(join(unsignedCache, f), "utf8");
        await writeFile(join(unsignedCache, f), text.split("\n").filter((l) => !l.startsWith("Sig: ")).join("\n"));
      }
      const unsignedArgs = publishArgs.map((a) => (a === `file://${oscdCache}` ? `file://${unsignedCache}` : a));
      const [unsignedS] = await timed(() => must("node", unsignedArgs));

      const [bareS] = await timed(async () => {
        const attrs = forBare.hosts.flatMap((h) => ["-A", `hosts.${h}`]);
        const outs = (await must("nix-build", ["--no-out-link", join(forBare.dir, "default.nix"), ...attrs])).split("\n").filter(Boolean);
        if (outs.length !== n) throw new Error(`nix-build gave ${outs.length} paths for ${n} hosts`);
        await must("nix", ["store", "sign", "--key-file", keyFile, "--recursive", ...outs]);
        await must("nix", ["copy", "--to", `file://${bareCache}`, ...outs]);
      });
      const bareCpuS = lastCpuS;
      rows.push([String(n), fmt(oscdS), fmt(bareS), `${(oscdS / bareS).toFixed(2)}x`, fmt(oscdCpuS), fmt(bareCpuS), `${(oscdCpuS / bareCpuS).toFixed(2)}x`, (oscdS / n).toFixed(3), (bareS / n).toFixed(3), fmt(againS), fmt(unsignedS)]);
      process.stderr.write(`N=${n}: oscd ${fmt(oscdS)}s, bare ${fmt(bareS)}s, again ${fmt(againS)}s, unsigned ${fmt(unsignedS)}s\n`);
    }
  } finally {
    for (const r of repos) await r.destroy();
    await rm(dir, { recursive: true, force: true });
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  process.stdout.write(`oscd publish vs nix-build + nix store sign + nix copy (file cache), ${(await must("nix", ["--version"])).trim()}\n(before: ${loadBefore}; after: ${machine()}; CPU: user + system of the command and all it ran)\n`);
  for (const r of rows) process.stdout.write(r.map((c, i) => c.padStart(widths[i] ?? 0)).join("  ") + "\n");
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
