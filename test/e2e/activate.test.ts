import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build, copyTo, formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf, signPaths } from "../../src/nix/index.js";
import { FleetRepo, OSCD_BIN, SimHost, buildFakeToplevel, oscdOn, tempDir, uniqueMarker, waitFor } from "../harness/index.js";
import { wholeGeneration } from "./upgrade-helpers.js";

let dir: string;
let fleet: FleetRepo;
let web1: string;
let web2: string;
let publicKey: string;
let signedCache: string;
let unsignedCache: string;
let corruptCache: string;
let corrupt: string;
const hosts: SimHost[] = [];

async function host(substituters: string[] = [signedCache], health = ""): Promise<SimHost> {
  const h = await SimHost.create({ name: "web1" });
  hosts.push(h);
  await mkdir(h.path("/etc/oscd"), { recursive: true });
  await writeFile(h.path("/etc/oscd/machine.toml"), `substituters = ${JSON.stringify(substituters)}\ntrustedPublicKeys = ["${publicKey}"]\n${health}`);
  return h;
}

beforeAll(async () => {
  dir = await tempDir("e2e-activate");
  fleet = await FleetRepo.create({ layout: "flake", hosts: ["web1", "web2"] });
  [web1, web2] = (await build(fleet.nixSource(await fleet.head()), [fleet.attr("web1"), fleet.attr("web2")])).map((b) => b.outPath) as [string, string];
  const key = generateSecretKey("e2e-activate");
  publicKey = formatPublicKey(publicKeyOf(key));
  await writeFile(join(dir, "key"), formatSecretKey(key), { mode: 0o600 });
  signedCache = `file://${join(dir, "signed")}`;
  unsignedCache = `file://${join(dir, "unsigned")}`;
  await copyTo(signedCache, [web1, web2]);
  await signPaths([web1, web2], join(dir, "key"), { store: signedCache, recursive: true });
  await copyTo(unsignedCache, [web1]);
  // A signed path whose NAR got one byte flipped in a file's contents (uncompressed, so the
  // archive still parses and only the hash can tell).
  corrupt = await buildFakeToplevel({ hostname: "web1", marker: `corrupt-${uniqueMarker()}` });
  const corruptDir = join(dir, "corrupt");
  corruptCache = `file://${corruptDir}`;
  await copyTo(`${corruptCache}?compression=none`, [corrupt]);
  await signPaths([corrupt], join(dir, "key"), { store: corruptCache, recursive: true });
  const narinfo = await readFile(join(corruptDir, `${corrupt.slice("/nix/store/".length, "/nix/store/".length + 32)}.narinfo`), "utf8");
  const narFile = join(corruptDir, /^URL: (.*)$/m.exec(narinfo)?.[1] ?? "missing");
  const nar = await readFile(narFile);
  const at = nar.indexOf("marker=corrupt-");
  expect(at).toBeGreaterThan(0);
  nar[at] = nar[at]! ^ 1;
  await writeFile(narFile, nar);
});

/** The refused deployment is in the history as aborted with its cause; nothing is left open. */
async function expectClosedAsAborted(h: SimHost, cause: RegExp): Promise<void> {
  expect(await wholeGeneration(h)).toMatchObject({ journalOpen: false, locked: false });
  expect((await readdir(h.path("/nix/var/nix/gcroots/oscd")).catch(() => [])).filter((n) => n.startsWith("pending-"))).toEqual([]);
  const s = JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { openDeployment?: unknown; lastDeployment?: { state: string; error?: string } };
  expect(s.openDeployment).toBeUndefined();
  expect(s.lastDeployment?.state).toBe("aborted");
  expect(s.lastDeployment?.error).toMatch(cause);
}
afterAll(async () => {
  for (const h of hosts) await h.destroy();
  await fleet?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("oscd activate", () => {
  it("realises a prebuilt toplevel from a signed cache and switches; again is a no-op", async () => {
    const h = await host();
    const r = await oscdOn(h, ["activate", web1]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/│ realise .*\n.*│ guard +host web1\n.*│ profile [^\n]*\n.*│ switch +switch-to-configuration switch\n.*│ health /s);
    expect(await wholeGeneration(h)).toEqual({ toplevel: web1, consistent: true, journalOpen: false, locked: false });
    const again = await oscdOn(h, ["activate", web1]);
    expect(again.stdout).toMatch(/already running .*; nothing to do/);
    expect(JSON.parse((await oscdOn(h, ["generations", "--json"])).stdout)).toHaveLength(1);
  });

  it("refuses a toplevel built for another host, changing nothing", async () => {
    const h = await host();
    await oscdOn(h, ["activate", web1]);
    const r = await oscdOn(h, ["activate", web2]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/^oscd: error\[wrong-host\]: .*nixos-system-web2.* is a system for host web2, but this is web1\nhint: /m);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: web1, consistent: true, journalOpen: false });
  });

  it("refuses a path from an unsigned cache with exit 3, and the store stays without it", async () => {
    const h = await host([unsignedCache]);
    const r = await oscdOn(h, ["activate", web1]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/error\[path-not-trusted\]: .* is not signed by a trusted key/);
    expect((await h.exec(["nix-store", "--check-validity", web1])).exitCode).not.toBe(0);
    expect(await h.currentSystem()).toBeUndefined();
    await expectClosedAsAborted(h, /is not signed by a trusted key/);
  });

  it("refuses a NAR whose bytes do not match its signed hash, naming Nix's cause, and closes the deployment", async () => {
    const h = await host([corruptCache]);
    const r = await oscdOn(h, ["activate", corrupt]);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^oscd: error\[path-corrupt\]: .*hash mismatch importing path/m);
    expect(r.stderr).not.toMatch(/error\[[^\]]*\]: .*build of .* failed/);
    expect((await h.exec(["nix-store", "--check-validity", corrupt])).exitCode).not.toBe(0);
    await expectClosedAsAborted(h, /hash mismatch/);
  });

  it("rejects something that is not a store path with exit 2", async () => {
    const h = await host();
    const r = await oscdOn(h, ["activate", "/etc/passwd"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/error\[invalid-store-path\]/);
  });

  it("dry-activate changes nothing", async () => {
    const h = await host();
    await oscdOn(h, ["activate", web1]);
    const before = await wholeGeneration(h);
    const other = await buildFakeToplevel({ hostname: "web1", marker: uniqueMarker() });
    await h.importFromMachine([other]);
    const r = await oscdOn(h, ["activate", "--mode", "dry-activate", other]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/dry run of .*: nothing changed/);
    expect(await wholeGeneration(h)).toEqual(before);
  });

  it("detects a needed reboot (kernel, initrd, modules) and clears it after rebooting", async () => {
    const h = await host();
    await oscdOn(h, ["activate", web1]);
    await h.reboot();
    const newKernel = await buildFakeToplevel({ hostname: "web1", kernelVersion: "6.6.6", marker: uniqueMarker() });
    await h.importFromMachine([newKernel]);
    const r = await oscdOn(h, ["activate", newKernel]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/reboot needed: kernel, initrd, kernel-modules changed/);
    const s = JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { reboot: { needed: boolean; reasons: string[] } };
    expect(s.reboot).toEqual({ needed: true, reasons: ["kernel", "initrd", "kernel-modules"] });
    const sameKernel = await buildFakeToplevel({ hostname: "web1", kernelVersion: "6.6.6", marker: uniqueMarker() });
    await h.reboot();
    await h.importFromMachine([sameKernel]);
    const r2 = await oscdOn(h, ["activate", sameKernel]);
    expect(r2.stdout).not.toMatch(/reboot needed/);
    expect((JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { reboot: { needed: boolean } }).reboot.needed).toBe(false);
  });

  it("a switch whose oscd was killed -9 keeps recovery out until it ends: the two switches never overlap, and the host ends on a whole generation", async () => {
    const h = await host();
    expect((await oscdOn(h, ["activate", web1])).exitCode).toBe(0);
    const slow = await buildFakeToplevel({ hostname: "web1", gate: true, marker: uniqueMarker() });
    await h.importFromMachine([slow]);
    const switches = async () => (await readFile(h.path("/run/fake-nixos/switches"), "utf8").catch(() => "")).trim().split("\n").filter(Boolean);
    await writeFile(h.path("/run/fake-nixos/switches"), "");
    const first = oscdOn(h, ["activate", slow]);
    await waitFor(async () => (await switches()).includes(`start switch ${slow}`), 120_000, "the slow switch to start");
    // Killed mid-switch (its pid is the host lock's holder): its switch-to-configuration goes on alone.
    const holder = JSON.parse(await readFile(h.path("/var/lib/oscd/lock"), "utf8")) as { pid: number };
    await h.sh(["kill", "-KILL", String(holder.pid)]);
    expect((await first).exitCode).not.toBe(0);
    // Recovery starts while it still runs (its progress lines to a file in the host, to be watched).
    const recovering = h.exec(["sh", "-c", `exec node ${OSCD_BIN} recover 2> /run/recover.log`]);
    const recoverLog = async () => readFile(h.path("/run/recover.log"), "utf8").catch(() => "");
    await waitFor(async () => /waiting for the switch of an interrupted deployment to end/.test(await recoverLog()) || (await switches()).length > 1, 120_000, "recovery to wait, or to switch");
    expect(await switches()).toEqual([`start switch ${slow}`]);
    expect(await recoverLog()).toMatch(/switch-to-configuration holding \/var\/lib\/oscd\/switch\.fifo \(pid \d+ \(.*-nixos-system-web1-1\.0\.0\/bin\/switch-to-configuration switch\)/);
    await writeFile(h.path("/run/fake-nixos/gate"), "");
    const r = await recovering;
    expect(r.exitCode, r.stderr + (await recoverLog())).toBe(0);
    // One switch after the other: the orphan's to its end, then recovery's back to the old system.
    expect(await switches()).toEqual([`start switch ${slow}`, `end switch ${slow}`, `start switch ${web1}`, `end switch ${web1}`]);
    expect(await wholeGeneration(h)).toEqual({ toplevel: web1, consistent: true, journalOpen: false, locked: false });
    const s = JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { lastDeployment: { state: string; errorCode?: string; recovered?: boolean } };
    expect(s.lastDeployment).toMatchObject({ state: "rolled-back", errorCode: "interrupted", recovered: true });
  });

  it("refuses clearly when the store's disk is full, before realising, changing nothing", async () => {
    const h = await host();
    // A tiny store filesystem, filled up: the download would have nowhere to go. The disk-space
    // guard sees it first (before this guard, the realise failed half-way with disk-full).
    await h.sh(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", "/nix/store"]);
    await h.sh(["sh", "-c", "dd if=/dev/zero of=/nix/store/.filler bs=4k count=64 2>/dev/null || true"]);
    const r = await oscdOn(h, ["activate", web1]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/error\[disk-low\]: not enough space on \/nix\/store: .* needs [\d.]+ MiB \(with the margin\), 0\.0 MiB is free; nothing was changed/);
    expect(r.stderr).toMatch(/hint: free space first: `oscd gc`/);
    expect(await h.currentSystem()).toBeUndefined();
    expect(await h.readLink("/nix/var/nix/profiles/system")).toBeUndefined();
  });
});
