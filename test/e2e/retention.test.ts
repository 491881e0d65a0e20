import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyTo, formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf, signPaths } from "../../src/nix/index.js";
import { FleetRepo, SimHost, must, oscdOn, tempDir, uniqueMarker } from "../harness/index.js";
import { FAKE_TOPLEVEL_FILE } from "../harness/fixtures.js";
import { machineHost, releasedFleet, upgradeOn, wholeGeneration } from "./upgrade-helpers.js";

/**
 * A machine running for months: 30 deployments (three times what it keeps) with
 * `retention = { keepGenerations = 10, collectGarbage = true }` end with 10 generations, their
 * records and boot entries only, no roots left behind, and a store no larger than after the
 * tenth deployment (plus the newest closure). Each system carries 256 KiB of its own, so a store that kept old systems would show.
 */
const DEPLOYMENTS = 30;
const KEEP = 10;
let dir: string;
let cache: string;
let publicKey: string;
let systems: string[] = [];
const hosts: SimHost[] = [];
let fleet: FleetRepo | undefined;

beforeAll(async () => {
  dir = await tempDir("e2e-retention");
  const key = generateSecretKey("e2e-retention");
  publicKey = formatPublicKey(publicKeyOf(key));
  await writeFile(join(dir, "key"), formatSecretKey(key), { mode: 0o600 });
  const run = uniqueMarker();
  // All systems in one evaluation and one build.
  const expr = `map (i: import ${FAKE_TOPLEVEL_FILE} { hostname = "web1"; version = "1.0.\${toString i}"; marker = "${run}-\${toString i}"; payloadKiB = 256; }) (builtins.genList (i: i) ${DEPLOYMENTS + 1})`;
  systems = (await must("nix-build", ["--no-out-link", "-E", expr], { timeoutMs: 600_000 })).stdout.trim().split("\n");
  expect(systems).toHaveLength(DEPLOYMENTS + 1);
  cache = `file://${join(dir, "cache")}`;
  await copyTo(cache, systems);
  await signPaths(systems, join(dir, "key"), { store: cache, recursive: true });
}, 900_000);

afterAll(async () => {
  for (const h of hosts) await h.destroy();
  await fleet?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function storeBytes(h: SimHost): Promise<number> {
  return Number((await must("du", ["-sb", h.path("/nix/store")])).stdout.split(/\s/)[0]);
}

async function closureBytes(path: string): Promise<number> {
  const paths = (await must("nix-store", ["--query", "--requisites", path])).stdout.trim().split("\n");
  return Number((await must("du", ["-sbc", ...paths])).stdout.trim().split("\n").pop()?.split(/\s/)[0]);
}

describe("retention on a machine", () => {
  it(`${DEPLOYMENTS} deployments with keepGenerations = ${KEEP} end with ${KEEP} generations, records and boot entries, no stray roots, and a store that did not grow`, async () => {
    const h = await SimHost.create({ name: "web1" });
    hosts.push(h);
    await mkdir(h.path("/etc/oscd"), { recursive: true });
    await writeFile(h.path("/etc/oscd/machine.toml"), `substituters = ["${cache}"]\ntrustedPublicKeys = ["${publicKey}"]\n\n[retention]\nkeepGenerations = ${KEEP}\ncollectGarbage = true\n`);
    await h.install(systems[0] as string);
    let afterTenth = 0;
    for (let i = 1; i <= DEPLOYMENTS; i++) {
      const r = await oscdOn(h, ["activate", "--release-version", `1.0.${i}`, "--json", systems[i] as string]);
      expect(r.exitCode, `deployment ${i}: ${r.stderr}`).toBe(0);
      const result = JSON.parse(r.stdout) as { generation: number; retention?: { removed: number[]; kept: number }; retentionError?: string };
      expect(result.retentionError).toBeUndefined();
      expect(result.retention?.kept).toBe(Math.min(i + 1, KEEP));
      if (i === KEEP) afterTenth = await storeBytes(h);
    }
    const newest = systems[DEPLOYMENTS] as string;
    expect(await wholeGeneration(h)).toEqual({ toplevel: newest, consistent: true, journalOpen: false, locked: false });

    // Generations: the booted one (the installed system, never rebooted), and the newest others.
    const gens = JSON.parse((await oscdOn(h, ["generations", "--json"])).stdout) as { generation: number; toplevel: string; booted: boolean; current: boolean }[];
    const numbers = gens.map((g) => g.generation);
    expect(numbers).toEqual([1, ...Array.from({ length: KEEP - 1 }, (_, k) => DEPLOYMENTS + 2 - (KEEP - 1) + k)]);
    expect(gens[0]).toMatchObject({ toplevel: systems[0], booted: true });
    expect(gens.at(-1)).toMatchObject({ toplevel: newest, current: true });
    const links = (await readdir(h.path("/nix/var/nix/profiles"))).filter((n) => /^system-\d+-link$/.test(n));
    expect(links).toHaveLength(KEEP);

    // Records: only of generations that exist (generation 1 was installed without oscd).
    const records = (await readdir(h.path("/var/lib/oscd/generations"))).map((n) => Number(n.replace(".json", ""))).sort((a, b) => a - b);
    expect(records).toEqual(numbers.slice(1));

    // Boot entries: exactly one per generation, the newest the default.
    expect(await h.bootEntries()).toEqual(numbers.map((n) => `nixos-generation-${n}.conf`).sort());
    expect(await h.defaultBootToplevel()).toBe(newest);

    // Roots: nothing pending, no source root of a generation that is gone.
    const roots = await readdir(h.path("/nix/var/nix/gcroots/oscd")).catch(() => [] as string[]);
    expect(roots.filter((n) => n.startsWith("pending-") || (n.startsWith("generation-") && !numbers.includes(Number(/\d+/.exec(n)?.[0]))))).toEqual([]);

    // Store: old systems collected. Allow the newest closure on top of the size after the tenth.
    const store = await storeBytes(h);
    expect(store).toBeLessThanOrEqual(afterTenth + (await closureBytes(newest)));
    // Every kept system is whole in the store; a removed one is gone.
    for (const g of gens) expect((await h.exec(["nix-store", "--check-validity", g.toplevel])).exitCode).toBe(0);
    expect((await h.exec(["test", "-e", systems[5] as string])).exitCode).not.toBe(0);

    // Nothing more would go.
    const plan = JSON.parse((await oscdOn(h, ["generations", "--dry-run", "--json"])).stdout) as { wouldRemove: boolean }[];
    expect(plan.filter((p) => p.wouldRemove)).toEqual([]);
  }, 1_800_000);

  it("oscd gc on demand: --dry-run lists what would go, then it goes; the running, booted and previous generations stay", async () => {
    const h = await SimHost.create({ name: "web1" });
    hosts.push(h);
    await mkdir(h.path("/etc/oscd"), { recursive: true });
    await writeFile(h.path("/etc/oscd/machine.toml"), `substituters = ["${cache}"]\ntrustedPublicKeys = ["${publicKey}"]\n`);
    await h.install(systems[0] as string);
    for (let i = 1; i <= 6; i++) expect((await oscdOn(h, ["activate", "-q", "--release-version", `1.0.${i}`, systems[i] as string])).exitCode).toBe(0);
    // Without a policy nothing goes.
    expect(JSON.parse((await oscdOn(h, ["gc", "--dry-run", "--json"])).stdout).wouldRemove).toEqual([]);
    const dry = await oscdOn(h, ["generations", "--dry-run", "--config", "/dev/null"]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    const plan = JSON.parse((await oscdOn(h, ["gc", "--dry-run", "--json", "--keep-generations", "2"])).stdout) as { wouldRemove: number[]; generations: { generation: number; keep: string[] }[] };
    // 7 current and running, 6 previous, 1 booted: three protected, more than the two asked for.
    expect(plan.wouldRemove).toEqual([2, 3, 4, 5]);
    expect(plan.generations.find((g) => g.generation === 1)?.keep).toEqual(["booted"]);
    const before = await storeBytes(h);
    const r = await oscdOn(h, ["gc", "--keep-generations", "2", "--collect", "--max-freed", "64M"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/removed: generation\(s\) 2-5; 3 kept/);
    expect(r.stdout).toMatch(/boot entries: rewritten by/);
    expect(r.stdout).toMatch(/garbage: \d+ store path\(s\), [\d.]+ (KiB|MiB) freed/);
    expect(await h.bootEntries()).toEqual(["nixos-generation-1.conf", "nixos-generation-6.conf", "nixos-generation-7.conf"]);
    expect(await storeBytes(h)).toBeLessThan(before - 4 * 256 * 1024);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: systems[6], consistent: true, journalOpen: false, locked: false });
    // A bad policy is a usage error naming the flag.
    const bad = await oscdOn(h, ["gc", "--keep-generations", "0"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^oscd: error\[bad-retention\]: --keep-generations must be a whole number of at least 1/);
  }, 900_000);

  it("upgrades keep source roots only for the generations that remain, and the newest snapshots", async () => {
    const released = await releasedFleet();
    fleet = released.fleet;
    const h = await machineHost("web1", fleet, "[retention]\nkeepGenerations = 2\n");
    hosts.push(h);
    const commits: string[] = [];
    for (let i = 0; i < 5; i++) commits.push(await fleet.commitHostChange("web1", `retention-${i}`));
    for (const c of commits) {
      const r = await upgradeOn(h, ["--commit", c]);
      expect(r.exitCode, r.stderr).toBe(0);
    }
    const gens = JSON.parse((await oscdOn(h, ["generations", "--json"])).stdout) as { generation: number; sourcePath: string }[];
    expect(gens.map((g) => g.generation)).toEqual([4, 5]);
    const roots = (await readdir(h.path("/nix/var/nix/gcroots/oscd"))).sort();
    expect(roots.filter((n) => n.startsWith("generation-"))).toEqual(["generation-4-source", "generation-5-source"]);
    expect(roots.filter((n) => n.startsWith("source-")).length).toBeLessThanOrEqual(3);
    for (const g of gens) expect(await h.readLink(`/nix/var/nix/gcroots/oscd/generation-${g.generation}-source`)).toBe(g.sourcePath);
    expect((await readdir(h.path("/var/lib/oscd/generations"))).sort()).toEqual(["4.json", "5.json"]);
  }, 900_000);
});
