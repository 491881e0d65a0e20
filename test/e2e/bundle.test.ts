import { cp, mkdir, readFile, readdir, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/core/exec.js";
import { build, formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf, type SecretKey } from "../../src/nix/index.js";
import { serializeManifest, signManifest, type Manifest } from "../../src/publish/index.js";
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
let key: SecretKey;

beforeAll(async () => {
  dir = await tempDir("e2e-bundle");
  state = join(dir, "state");
  fleet = await FleetRepo.create({ layout: "flake", hosts: ["kiosk1", "other1"] });
  await fleet.commitFile("oscd.toml", '[fleet]\nname = "bundle-e2e"\n', "Add fleet file");
  await fleet.release("1.0.0");
  key = generateSecretKey("bundle-e2e");
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
  const r = await run("node", [OSCD_BIN, "bundle", "--on", on, "-o", out, "--sign-key", keyFile, "--repo", fleet.dir, "--state-dir", state, "--json", ...extra], { timeoutMs: 300_000 });
  expect(r.exitCode, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { hosts: { toplevel: string }[] }).hosts[0]!.toplevel;
}

const valid = async (p: string) => (await host.exec(["nix-store", "--check-validity", p])).exitCode === 0;

/** A copy of a bundle whose manifest is changed and signed again with the fleet key (a bundle its signer made). */
async function resigned(from: string, to: string, change: (m: Record<string, unknown>) => void): Promise<void> {
  await cp(from, to, { recursive: true });
  const m = JSON.parse(await readFile(join(to, "manifest.json"), "utf8")) as Record<string, unknown>;
  delete m.signatures;
  change(m);
  await writeFile(join(to, "manifest.json"), serializeManifest(signManifest(m as unknown as Manifest, key)));
}

const DAY = 86_400_000;

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

  it("refuses files that are not regular files without following or waiting on them, and never shows their content", async () => {
    const secret = `TOPSECRET-${Date.now()}`;
    const rootOnly = join(dir, "root-only");
    await writeFile(rootOnly, `${secret}\n`, { mode: 0o600 });
    const narinfoName = `${next.slice(11, 43)}.narinfo`;
    const narOf = async (b: string) => join(b, "cache", /^URL: (.*)$/m.exec(await readFile(join(b, "cache", narinfoName), "utf8"))![1]!);
    const cases: [string, (b: string) => Promise<void>, RegExp][] = [
      ["narinfo-symlink", async (b) => { await unlink(join(b, "cache", narinfoName)); await symlink(rootOnly, join(b, "cache", narinfoName)); }, new RegExp(`${narinfoName} is not a regular file`)],
      ["nar-dev-zero", async (b) => { const n = await narOf(b); await unlink(n); await symlink("/dev/zero", n); }, /nar\/\S+\.nar is not a regular file/],
      ["narinfo-fifo", async (b) => { await unlink(join(b, "cache", narinfoName)); await run("mkfifo", [join(b, "cache", narinfoName)], { timeoutMs: 10_000 }); }, new RegExp(`${narinfoName} is not a regular file`)],
      ["nar-fifo", async (b) => { const n = await narOf(b); await unlink(n); await run("mkfifo", [n], { timeoutMs: 10_000 }); }, /nar\/\S+\.nar is not a regular file/],
      ["cache-symlink", async (b) => { await rm(join(b, "cache"), { recursive: true }); await symlink(join(good, "cache"), join(b, "cache")); }, /cache is not a directory/],
      // A regular narinfo whose lines are not narinfo lines: named by line number, never quoted.
      ["narinfo-garbage", async (b) => writeFile(join(b, "cache", narinfoName), `StorePath: ${next}\n${secret}\n`), new RegExp(`${narinfoName} line 2: `)],
      ["narinfo-huge", async (b) => writeFile(join(b, "cache", narinfoName), `StorePath: ${next}\n${"X: y\n".repeat(200_000)}`), new RegExp(`${narinfoName} is larger than`)],
    ];
    for (const [name, spoil, cause] of cases) {
      const b = join(dir, `spoiled-${name}`);
      await cp(good, b, { recursive: true });
      await spoil(b);
      const r = await oscdOn(host, ["activate", "--bundle", b], { timeoutMs: 60_000 });
      expect(r.exitCode, `${name}: ${r.stderr}`).toBe(3);
      expect(r.stderr, name).toMatch(/error\[bundle-refused\]: bundle .* refused, nothing imported: /);
      expect(r.stderr, name).toMatch(cause);
      expect(r.stderr + r.stdout, name).not.toContain(secret);
    }
    expect(await valid(next)).toBe(false);
    expect(await host.currentSystem()).toBe(v100);
  });

  it("carries a signed expiry: an expired bundle and one without expiry are refused unless the operator says otherwise", async () => {
    const m = JSON.parse(await readFile(join(good, "manifest.json"), "utf8")) as { createdAt: string; expiresAt?: string };
    expect(Date.parse(m.expiresAt ?? "") - Date.parse(m.createdAt)).toBe(30 * DAY);
    const expired = join(dir, "expired");
    await resigned(good, expired, (b) => Object.assign(b, { createdAt: new Date(Date.now() - 40 * DAY).toISOString(), expiresAt: new Date(Date.now() - 10 * DAY).toISOString() }));
    const r1 = await oscdOn(host, ["activate", "--bundle", expired]);
    expect(r1.exitCode).toBe(3);
    expect(r1.stderr).toMatch(/error\[bundle-expired\]: bundle .* refused, nothing imported: it expired at /);
    expect(r1.stderr).toMatch(/--allow-expired/);
    const forever = join(dir, "no-expiry");
    await resigned(good, forever, (b) => delete b.expiresAt);
    const r2 = await oscdOn(host, ["activate", "--bundle", forever]);
    expect(r2.exitCode).toBe(3);
    expect(r2.stderr).toMatch(/error\[bundle-no-expiry\]: bundle .* refused, nothing imported: it has no expiry/);
    expect(await valid(next)).toBe(false);
    expect(await host.currentSystem()).toBe(v100);
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

  it("--allow-expired takes an expired bundle, --allow-no-expiry one without expiry; every other check still applies", async () => {
    await fleet.commitHostChange("kiosk1", "expired but wanted");
    const fresh = join(dir, "fresh-for-expired");
    const top = await bundle("kiosk1", fresh);
    const expired = join(dir, "expired-wanted");
    await resigned(fresh, expired, (b) => Object.assign(b, { sequence: (b.sequence as number) + 1000, createdAt: new Date(Date.now() - 40 * DAY).toISOString(), expiresAt: new Date(Date.now() - 10 * DAY).toISOString() }));
    const refused = await oscdOn(host, ["activate", "--bundle", expired]);
    expect(refused.exitCode).toBe(3);
    expect(await valid(top)).toBe(false);
    const r = await oscdOn(host, ["activate", "--bundle", expired, "--allow-expired", "--json"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: "committed", toplevel: top });
    // An older system without expiry and with an old sequence: past the expiry check, the replay is still refused.
    const old = join(dir, "no-expiry-old");
    await resigned(good, old, (b) => {
      b.sequence = 7;
      delete b.expiresAt;
    });
    const replay = await oscdOn(host, ["activate", "--bundle", old, "--allow-no-expiry"]);
    expect(replay.exitCode).toBe(3);
    expect(replay.stderr).toMatch(/bundle-refused.*its sequence 7 on channel bundle is not newer/);
  });
});
