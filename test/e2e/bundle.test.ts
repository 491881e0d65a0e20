import { cp, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/core/exec.js";
import { build, formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf } from "../../src/nix/index.js";
import { ensureBuilt, FleetRepo, OSCD_BIN, SimHost, oscdOn, tempDir } from "../harness/index.js";
import { wholeGeneration } from "./upgrade-helpers.js";

/**
 * Air-gapped bundles: `oscd bundle` on the test machine, `oscd activate --bundle` inside a
 * SimHost whose network is down. Everything is checked before anything is imported.
 */
let dir: string;
let fleet: FleetRepo;
let host: SimHost;
let keyFile: string;
let state: string;
let v100: string;

beforeAll(async () => {
  dir = await tempDir("e2e-bundle");
  state = join(dir, "state");
  fleet = await FleetRepo.create({ layout: "flake", hosts: ["kiosk1", "other1"] });
  await fleet.commitFile("oscd.toml", '[fleet]\nname = "bundle-e2e"\n', "Add fleet file");
  await fleet.release("1.0.0");
  const key = generateSecretKey("bundle-e2e");
  keyFile = join(dir, "fleet.secret");
  await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
  host = await SimHost.create({ name: "kiosk1" });
  await mkdir(host.path("/etc/oscd"), { recursive: true });
  await writeFile(host.path("/etc/oscd/machine.toml"), `trustedPublicKeys = ["${formatPublicKey(publicKeyOf(key))}"]\n[health]\nsystemdUnits = false\nretries = 0\n`);
  [v100] = (await build(fleet.nixSource(await fleet.head()), [fleet.attr("kiosk1")])).map((b) => b.outPath) as [string];
  await host.install(v100);
  // No network: the bundle is the only way in.
  await host.sh(["ip", "link", "set", "eth0", "down"]);
  await fleet.release("1.1.0");
}, 300_000);

afterAll(async () => {
  await host?.destroy();
  await fleet?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function bundle(on: string, out: string, extra: string[] = []): Promise<string> {
  await ensureBuilt();
  const r = await run("node", [OSCD_BIN, "bundle", "--on", on, "-o", out, "--key", keyFile, "--repo", fleet.dir, "--state-dir", state, "--json", ...extra], { timeoutMs: 300_000 });
  expect(r.exitCode, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { hosts: { toplevel: string }[] }).hosts[0]!.toplevel;
}

const valid = async (p: string) => (await host.exec(["nix-store", "--check-validity", p])).exitCode === 0;

describe("oscd bundle / oscd activate --bundle", () => {
  let good: string;
  let next: string;

  it("refuses a bundle with one flipped byte, naming the cause, and imports nothing", async () => {
    good = join(dir, "good");
    next = await bundle("kiosk1", good);
    const bad = join(dir, "flipped");
    await cp(good, bad, { recursive: true });
    const narinfo = await readFile(join(bad, "cache", `${next.slice(11, 43)}.narinfo`), "utf8");
    const narFile = join(bad, "cache", /^URL: (.*)$/m.exec(narinfo)![1]!);
    const nar = await readFile(narFile);
    const at = nar.indexOf("nixos-version");
    expect(at).toBeGreaterThan(0);
    nar[at + 40] = nar[at + 40]! ^ 1;
    await writeFile(narFile, nar);
    const r = await oscdOn(host, ["activate", "--bundle", bad]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/error\[bundle-refused\]: bundle .* refused, nothing imported: the NAR of \/nix\/store\/\S+ does not match its signed hash/);
    expect(await valid(next)).toBe(false);
    expect(await host.currentSystem()).toBe(v100);
  });

  it("refuses an edited manifest and a bundle for another host", async () => {
    const edited = join(dir, "edited");
    await cp(good, edited, { recursive: true });
    const m = JSON.parse(await readFile(join(edited, "manifest.json"), "utf8")) as { version: string };
    m.version = "9.9.9";
    await writeFile(join(edited, "manifest.json"), JSON.stringify(m));
    const r1 = await oscdOn(host, ["activate", "--bundle", edited]);
    expect(r1.exitCode).toBe(3);
    expect(r1.stderr).toMatch(/bundle-refused.*not signed by a trusted key/);

    const other = join(dir, "other");
    await bundle("other1", other);
    const r2 = await oscdOn(host, ["activate", "--bundle", other]);
    expect(r2.exitCode).toBe(3);
    expect(r2.stderr).toMatch(/bundle-refused.*it is for other1, not for kiosk1/);
    expect(await valid(next)).toBe(false);
  });

  it("deploys a host with no network from a good bundle, through the engine", async () => {
    expect((await host.exec(["ip", "-o", "link", "show", "eth0"])).stdout).not.toMatch(/state UP/);
    const r = await oscdOn(host, ["activate", "--bundle", good, "--json"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: "committed", toplevel: next, release: { version: "1.1.0", channel: "bundle" } });
    expect(await wholeGeneration(host)).toMatchObject({ toplevel: next, consistent: true, journalOpen: false });
    const gens = JSON.parse((await oscdOn(host, ["generations", "--json"])).stdout) as { version?: string }[];
    expect(gens.at(-1)?.version).toBe("1.1.0");
    expect((await readdir(host.path("/nix/store"))).length).toBeGreaterThan(0);
  });

  it("refuses an older bundle (a replay) before importing it", async () => {
    await fleet.commitHostChange("kiosk1", "replayed");
    const old = join(dir, "old");
    const top = await bundle("kiosk1", old, ["--sequence", "5"]);
    const r = await oscdOn(host, ["activate", "--bundle", old]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/bundle-refused.*its sequence 5 on channel bundle is not newer than \d+, the last one this host applied \(a replay\)/);
    expect(await valid(top)).toBe(false);
    expect(await host.currentSystem()).toBe(next);
  });
});
