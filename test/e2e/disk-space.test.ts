import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyTo, formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf, signPaths } from "../../src/nix/index.js";
import { SimHost, buildFakeToplevel, oscdOn, tempDir, uniqueMarker } from "../harness/index.js";
import { wholeGeneration } from "./upgrade-helpers.js";

/**
 * The disk-space guard on hosts with small disks of their own (tmpfs): a closure that does not fit
 * the store is refused before a byte is downloaded, a kernel that does not fit /boot before the
 * profile changes; `disk-low`, exit 3, both numbers named, and the host whole afterwards.
 */
let dir: string;
let cache: string;
let publicKey: string;
let v1: string;
let big: string;
let small: string;
let newKernel: string;
const hosts: SimHost[] = [];

beforeAll(async () => {
  dir = await tempDir("e2e-disk");
  const key = generateSecretKey("e2e-disk");
  publicKey = formatPublicKey(publicKeyOf(key));
  await writeFile(join(dir, "key"), formatSecretKey(key), { mode: 0o600 });
  const m = uniqueMarker();
  v1 = await buildFakeToplevel({ hostname: "web1", version: "1.0.0", marker: `${m}-1` });
  big = await buildFakeToplevel({ hostname: "web1", version: "1.1.0", marker: `${m}-big`, payloadKiB: 96 * 1024 });
  small = await buildFakeToplevel({ hostname: "web1", version: "1.2.0", marker: `${m}-small` });
  newKernel = await buildFakeToplevel({ hostname: "web1", version: "1.3.0", marker: `${m}-kernel`, kernelVersion: `6.9.${Date.now() % 1000}` });
  cache = `file://${join(dir, "cache")}`;
  await copyTo(cache, [v1, big, small, newKernel]);
  await signPaths([v1, big, small, newKernel], join(dir, "key"), { store: cache, recursive: true });
}, 600_000);

afterAll(async () => {
  for (const h of hosts) await h.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function host(opts: { nixTmpfsMiB?: number; bootTmpfsMiB?: number }): Promise<SimHost> {
  const h = await SimHost.create({ name: "web1", ...opts });
  hosts.push(h);
  await mkdir(h.path("/etc/oscd"), { recursive: true });
  await writeFile(h.path("/etc/oscd/machine.toml"), `substituters = ["${cache}"]\ntrustedPublicKeys = ["${publicKey}"]\n`);
  await h.install(v1);
  return h;
}

async function storeNames(h: SimHost): Promise<string[]> {
  return (await readdir(h.path("/nix/store"))).filter((n) => !n.startsWith("."));
}

describe("disk-space guard", () => {
  it("refuses a closure larger than the store's free space before downloading anything, and the host stays whole", async () => {
    const h = await host({ nixTmpfsMiB: 80 });
    const before = await storeNames(h);
    const r = await oscdOn(h, ["activate", "--release-version", "1.1.0", big]);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^oscd: error\[disk-low\]: not enough space on \/nix\/store: \d+ path\(s\) of the new system \(96\.\d MiB unpacked\) needs 160\.\d MiB \(with the margin\), [\d.]+ MiB is free; nothing was changed$/m);
    expect(r.stderr).toMatch(/^hint: .*oscd gc/m);
    // Nothing downloaded: the store holds exactly what it held.
    expect(await storeNames(h)).toEqual(before);
    expect(await wholeGeneration(h)).toEqual({ toplevel: v1, consistent: true, journalOpen: false, locked: false });
    expect((await readdir(h.path("/nix/var/nix/gcroots/oscd")).catch(() => [])).filter((n) => n.startsWith("pending-"))).toEqual([]);
    const s = JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { lastDeployment?: { state: string; error?: string } };
    expect(s.lastDeployment).toMatchObject({ state: "aborted", error: expect.stringMatching(/not enough space on \/nix\/store/) });
    // A release that fits still deploys on the same host.
    const ok = await oscdOn(h, ["activate", "--release-version", "1.2.0", small]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/│ disk\s+\d+ path\(s\), [\d.]+ MiB to fetch; [\d.]+ MiB free/);
    expect(await wholeGeneration(h)).toEqual({ toplevel: small, consistent: true, journalOpen: false, locked: false });
  }, 600_000);

  it("the guard can fail: with room in the store the same closure deploys", async () => {
    const h = await host({ nixTmpfsMiB: 256 });
    const r = await oscdOn(h, ["activate", "--release-version", "1.1.0", big]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: big, consistent: true });
  }, 600_000);

  it("refuses a new kernel that does not fit /boot before the profile changes", async () => {
    const h = await host({ bootTmpfsMiB: 2 });
    const gensBefore = await oscdOn(h, ["generations", "--json"]);
    const r = await oscdOn(h, ["activate", "--release-version", "1.3.0", newKernel]);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^oscd: error\[disk-low\]: not enough space on \/boot: the new kernel and initrd needs 4\.\d MiB \(with the margin\), [\d.]+ MiB is free; nothing was changed$/m);
    expect((await oscdOn(h, ["generations", "--json"])).stdout).toBe(gensBefore.stdout);
    expect(await wholeGeneration(h)).toEqual({ toplevel: v1, consistent: true, journalOpen: false, locked: false });
    // The same kernel as the running one needs nothing more on /boot.
    const ok = await oscdOn(h, ["activate", "--release-version", "1.2.0", small]);
    expect(ok.exitCode, ok.stderr).toBe(0);
  }, 600_000);
});
