import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/core/exec.js";
import { build, copyTo, formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf, signPaths } from "../../src/nix/index.js";
import { FleetRepo, SimHost, tempDir } from "../harness/index.js";

/**
 * The foundation's end-to-end checks: simulated hosts with stores of their own substitute a
 * toplevel from a file binary cache signed by an oscd-made key, switch to it, reboot, and
 * take SSH connections on their own addresses.
 */
let dir: string;
let fleet: FleetRepo;
let web1: string;
let web2: string;
let signedCache: string;
let unsignedCache: string;
let publicKey: string;
const hosts: SimHost[] = [];

async function host(name: string, substituters: string[], extra: { sshd?: boolean } = {}): Promise<SimHost> {
  const h = await SimHost.create({ name, substituters, trustedPublicKeys: [publicKey], ...extra });
  hosts.push(h);
  return h;
}

beforeAll(async () => {
  dir = await tempDir("e2e-simhost");
  fleet = await FleetRepo.create({ layout: "flake" });
  const built = await build(fleet.nixSource(await fleet.head()), [fleet.attr("web1"), fleet.attr("web2")]);
  [web1, web2] = built.map((b) => b.outPath) as [string, string];
  const key = generateSecretKey("oscd-test-fleet");
  publicKey = formatPublicKey(publicKeyOf(key));
  const keyFile = join(dir, "fleet.secret");
  await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
  signedCache = `file://${join(dir, "signed-cache")}`;
  unsignedCache = `file://${join(dir, "unsigned-cache")}`;
  await copyTo(signedCache, [web1, web2]);
  await signPaths([web1, web2], keyFile, { store: signedCache, recursive: true });
  await copyTo(unsignedCache, [web1]);
});

afterAll(async () => {
  for (const h of hosts) await h.destroy();
  await fleet?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function realiseAndSwitch(h: SimHost, toplevel: string): Promise<void> {
  await h.sh(["nix-store", "--realise", toplevel, "--add-root", "/nix/var/nix/gcroots/oscd/test", "--max-jobs", "0"]);
  await h.sh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--set", toplevel]);
  await h.sh([`${toplevel}/bin/switch-to-configuration`, "switch"]);
}

describe("SimHost", () => {
  it("two hosts substitute the same toplevel from an oscd-signed cache into their own stores and switch", async () => {
    const a = await host("sim-a", [signedCache]);
    const b = await host("sim-b", [signedCache]);
    expect((await a.sh(["ls", "/nix/store"])).stdout.trim()).toBe("");
    await realiseAndSwitch(a, web1);
    await realiseAndSwitch(b, web1);
    expect((await a.sh(["readlink", "/run/current-system"])).stdout.trim()).toBe(web1);
    expect((await b.sh(["readlink", "/run/current-system"])).stdout.trim()).toBe(web1);
    expect((await a.sh(["hostname"])).stdout.trim()).toBe("sim-a");
    expect((await b.sh(["cat", "/etc/machine-id"])).stdout.trim()).toBe(b.machineId);

    // b moves on; a does not see it, in its /run or its store.
    await realiseAndSwitch(b, web2);
    expect(await b.currentSystem()).toBe(web2);
    expect(await a.currentSystem()).toBe(web1);
    expect((await a.exec(["nix-store", "--check-validity", web2])).exitCode).not.toBe(0);
    expect((await b.exec(["nix-store", "--check-validity", web2])).exitCode).toBe(0);
    expect((await a.sh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--list-generations"])).stdout.trim().split("\n")).toHaveLength(1);
    expect((await b.sh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--list-generations"])).stdout.trim().split("\n")).toHaveLength(2);
    // Boot entries follow the profile: b's default is web2, a's web1.
    expect(await a.defaultBootToplevel()).toBe(web1);
    expect(await b.defaultBootToplevel()).toBe(web2);
    expect(await b.bootEntries()).toEqual(["nixos-generation-1.conf", "nixos-generation-2.conf"]);
  });

  it("refuses the same path from an unsigned cache, and keeps the store clean", async () => {
    const c = await host("sim-c", [unsignedCache]);
    const r = await c.exec(["nix-store", "--realise", web1, "--max-jobs", "0"]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/not signed by any of the keys/);
    expect((await c.exec(["nix-store", "--check-validity", web1])).exitCode).not.toBe(0);
    expect(await c.currentSystem()).toBeUndefined();
  });

  it("a reboot ends the host's processes and sets /run/booted-system from the default boot entry", async () => {
    const d = await host("sim-d", [signedCache]);
    await realiseAndSwitch(d, web1);
    await d.sh(["sh", "-c", "sleep 600 > /dev/null 2>&1 &"]);
    expect((await d.sh(["ps", "-eo", "args="])).stdout).toMatch(/sleep 600/);
    expect(await d.bootedSystem()).toBeUndefined();
    // Stage a new default without activating it: only a reboot makes it current.
    await d.sh(["nix-store", "--realise", web2, "--max-jobs", "0"]);
    await d.sh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--set", web2]);
    await d.sh([`${web2}/bin/switch-to-configuration`, "boot"]);
    expect(await d.currentSystem()).toBe(web1);
    await d.reboot();
    expect(await d.bootedSystem()).toBe(web2);
    expect(await d.currentSystem()).toBe(web2);
    expect(await d.activations()).toEqual([]);
    expect((await d.sh(["ps", "-eo", "args="])).stdout).not.toMatch(/sleep 600/);
    expect((await d.sh(["hostname"])).stdout.trim()).toBe("sim-d");
  });

  it("ssh from the test process reaches the host's own sshd on its own address", async () => {
    const e = await host("sim-e", [signedCache], { sshd: true });
    const f = await host("sim-f", [signedCache], { sshd: true });
    expect(e.address).not.toBe(f.address);
    for (const h of [e, f]) {
      const s = await h.ssh();
      const r = await run("ssh", [...s.args, s.target, "hostname; cat /etc/machine-id; ip -4 -o addr show dev eth0"], { timeoutMs: 30_000 });
      expect(r.stderr).toBe("");
      expect(r.exitCode).toBe(0);
      const [name, mid, addr] = r.stdout.trim().split("\n");
      expect(name).toBe(h.name);
      expect(mid).toBe(h.machineId);
      expect(addr).toContain(`${h.address}/24`);
    }
    // sshd comes back after a reboot.
    await e.reboot();
    const s = await e.ssh();
    const again = await run("ssh", [...s.args, s.target, "hostname"], { timeoutMs: 30_000 });
    expect(again.stdout.trim()).toBe("sim-e");
  });
});
