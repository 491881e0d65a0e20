/**
 * A machine running for a long time: N deployments (default 500) through the activation engine
 * with `retention = { keepGenerations = K, collectGarbage = true }` (default 10), then what is
 * left (generations, records, roots, boot entries, store size against the size after the K-th
 * deployment plus the newest closure). Then `oscd gc` on N generations left without retention,
 * beside the bare Nix commands doing the same (`nix-env --delete-generations +K`, the boot
 * loader through `switch-to-configuration boot`, `nix-store --gc`) on a host in the same state.
 *
 * The deployments run the engine in one Node process inside the host (as the agent does), so the
 * numbers are the engine's and retention's, not N Node starts.
 *
 *   npx tsx bench/retention.ts [deployments] [keep] [all|deployments|gc]
 */
import { readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { copyTo, signPaths } from "../src/nix/index.js";
import { FAKE_TOPLEVEL_FILE } from "../test/harness/fixtures.js";
import { REPO_ROOT, ensureBuilt, must, oscdOn, tempDir, uniqueMarker, type SimHost } from "../test/harness/index.js";
import { TEST_NIX_CONFIG } from "../test/harness/nix-env.js";
import { signedCache, stats, type SignedCache } from "./_signed-host.js";
import { machine, measure } from "./_measure.js";

process.env.NIX_CONFIG = TEST_NIX_CONFIG;
const N = Number(process.argv[2] ?? 500);
const KEEP = Number(process.argv[3] ?? 10);
const PARTS = process.argv[4] ?? "all";

/** Runs the engine over the systems inside the host; prints one JSON line of results. */
const DRIVER = `
import { readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
const a = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { activate } = await import(a.dist + "/activate/index.js");
const times = [];
let afterKeep = 0;
for (let i = 0; i < a.systems.length; i++) {
  const t = performance.now();
  const r = await activate({ toplevel: a.systems[i], mode: "switch", host: "web1", release: { version: "1.0." + (i + 1) }, substituters: [a.cache], trustedPublicKeys: [a.key], health: { systemdUnits: false, commands: [], http: [], timeoutSeconds: 10, retries: 0, retryDelaySeconds: 1 }, retention: a.retention });
  times.push(performance.now() - t);
  if (r.retentionError) throw new Error(r.retentionError);
  if (i + 1 === a.keep) afterKeep = Number(execFileSync("du", ["-sb", "/nix/store"], { encoding: "utf8" }).split(/\\s/)[0]);
}
writeFileSync(a.out, JSON.stringify({ times, afterKeep }));
`;

async function drive(h: SimHost, systems: string[], cache: string, key: string, retention: unknown): Promise<{ times: number[]; afterKeep: number }> {
  await writeFile(h.path("/root/driver.mjs"), DRIVER);
  await writeFile(h.path("/root/driver.json"), JSON.stringify({ dist: join(REPO_ROOT, "dist"), systems, cache, key, retention, keep: KEEP, out: "/root/driver.out" }));
  await h.sh(["node", "/root/driver.mjs", "/root/driver.json"], { timeoutMs: 4 * 3600_000 });
  return JSON.parse(await (await import("node:fs/promises")).readFile(h.path("/root/driver.out"), "utf8")) as { times: number[]; afterKeep: number };
}

const storeBytes = async (h: SimHost) => Number((await must("du", ["-sb", h.path("/nix/store")])).stdout.split(/\s/)[0]);

async function closureBytes(path: string): Promise<number> {
  const paths = (await must("nix-store", ["--query", "--requisites", path])).stdout.trim().split("\n");
  return Number((await must("du", ["-sbc", ...paths])).stdout.trim().split("\n").pop()?.split(/\s/)[0]);
}

async function deployments(signed: SignedCache, first: string, systems: string[], hosts: SimHost[]): Promise<void> {
  const out: string[] = [];
  const a = await signed.host("web1", true);
  hosts.push(a);
  await a.install(first);
  const withRetention = await drive(a, systems, signed.cache, signed.publicKey, { keepGenerations: KEEP, collectGarbage: true });
  const gens = (await readdir(a.path("/nix/var/nix/profiles"))).filter((n) => /^system-\d+-link$/.test(n)).length;
  const records = (await readdir(a.path("/var/lib/oscd/generations"))).length;
  const roots = (await readdir(a.path("/nix/var/nix/gcroots/oscd")).catch(() => [] as string[])).length;
  const entries = (await a.bootEntries()).length;
  const store = await storeBytes(a);
  const bound = withRetention.afterKeep + (await closureBytes(systems[systems.length - 1] as string));
  const s = stats(withRetention.times);
  out.push(`\n${N} deployments, retention keepGenerations = ${KEEP} + collectGarbage (engine in one process inside the host)\n`);
  out.push(`  per deployment:  median ${s.median.toFixed(0)} ms, min ${s.min.toFixed(0)} ms, max ${s.max.toFixed(0)} ms (realise, guard, profile, switch, retention, GC)`);
  out.push(`  left:            ${gens} generations, ${records} records, ${roots} GC roots, ${entries} boot entries`);
  out.push(`  store:           ${(store / 1048576).toFixed(2)} MiB now, ${(withRetention.afterKeep / 1048576).toFixed(2)} MiB after deployment ${KEEP}, bound ${(bound / 1048576).toFixed(2)} MiB (+ newest closure): ${store <= bound ? "within" : "ABOVE"}`);
  console.log(out.join("\n"));
}

async function main(): Promise<void> {
  await ensureBuilt();
  const dir = await tempDir("bench-retention");
  const signed = await signedCache(dir);
  const run = uniqueMarker();
  const expr = `map (i: import ${FAKE_TOPLEVEL_FILE} { hostname = "web1"; version = "1.0.\${toString i}"; marker = "${run}-\${toString i}"; payloadKiB = 64; }) (builtins.genList (i: i) ${N + 1})`;
  const all = (await must("nix-build", ["--no-out-link", "-E", expr], { timeoutMs: 3600_000 })).stdout.trim().split("\n");
  await copyTo(signed.cache, all);
  await signPaths(all, signed.keyFile, { store: signed.cache, recursive: true });
  const [first, ...systems] = all as [string, ...string[]];
  const hosts: SimHost[] = [];
  try {
    // 1. N deployments with retention after each.
    if (PARTS !== "gc") await deployments(signed, first, systems, hosts);
    if (PARTS === "deployments") return;

    // 2. N generations left without retention, on two hosts in the same state: oscd gc against bare Nix.
    const b = await signed.host("web1", true);
    const c = await signed.host("web1", false);
    hosts.push(b, c);
    await b.install(first);
    await c.install(first);
    // Both get the N generations the same way (a deployment each through the engine would take
    // hours here: without retention every switch writes a boot entry per generation, so each
    // one is slower than the last); oscd's host also gets a record per generation, as the engine
    // writes them.
    for (const h of [b, c]) {
      await h.sh(["nix-store", "--realise", "--max-jobs", "0", ...systems], { timeoutMs: 3600_000 });
      await h.sh(["sh", "-c", 'for p in "$@"; do nix-env -p /nix/var/nix/profiles/system --set "$p"; done', "sh", ...systems], { timeoutMs: 3600_000 });
      await h.sh([`${systems[systems.length - 1]}/bin/switch-to-configuration`, "switch"]);
    }
    await b.sh(["mkdir", "-p", "/var/lib/oscd/generations"]);
    for (let g = 2; g <= N + 1; g++) {
      await writeFile(b.path(`/var/lib/oscd/generations/${g}.json`), JSON.stringify({ generation: g, toplevel: systems[g - 2], deploymentId: `bench-${g}`, mode: "switch", createdAt: new Date().toISOString(), version: `1.0.${g - 1}` }));
    }
    const oscdGcCost = await measure(() => oscdOn(b, ["gc", "--keep-generations", String(KEEP), "--collect"], { timeoutMs: 3600_000 }));
    const bareCost = await measure(async () => {
      await c.sh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--delete-generations", `+${KEEP}`]);
      await c.sh([`${systems[systems.length - 1]}/bin/switch-to-configuration`, "boot"]);
      await c.sh(["nix-store", "--gc"], { timeoutMs: 3600_000 });
    });
    const bGens = (await readdir(b.path("/nix/var/nix/profiles"))).filter((n) => /^system-\d+-link$/.test(n)).length;
    const cGens = (await readdir(c.path("/nix/var/nix/profiles"))).filter((n) => /^system-\d+-link$/.test(n)).length;
    const row = (cells: string[]) => cells.map((x, i) => (i === 0 ? x.padEnd(62) : x.padStart(10))).join(" ");
    console.log(`\nremoving ${N + 1 - KEEP} of ${N + 1} generations and collecting garbage (one run each; ${machine()})\n`);
    console.log(row(["what", "ms", "CPU ms", "gens left", "store MiB"]));
    console.log(row(["bare: nix-env --delete-generations +K; stc boot; nix-store --gc", bareCost.wallMs.toFixed(0), bareCost.cpuMs.toFixed(0), String(cGens), ((await storeBytes(c)) / 1048576).toFixed(2)]));
    console.log(row(["oscd gc --keep-generations K --collect (records, roots too)", oscdGcCost.wallMs.toFixed(0), oscdGcCost.cpuMs.toFixed(0), String(bGens), ((await storeBytes(b)) / 1048576).toFixed(2)]));
    console.log(row(["ratio oscd / bare", (oscdGcCost.wallMs / bareCost.wallMs).toFixed(2), (oscdGcCost.cpuMs / bareCost.cpuMs).toFixed(2), "", ""]));
  } finally {
    for (const h of hosts) await h.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
