import { createHash, randomBytes } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadFleet, netbootMacs } from "../../src/fleet/index.js";
import { formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf } from "../../src/nix/index.js";
import { parseManifest, serializeManifest, signManifest, verifyManifest, type Manifest } from "../../src/publish/index.js";
import { createToken, revokeToken, startServer, type RunningServer } from "../../src/server/index.js";
import { FleetRepo, SimHost, tempDir, testNetwork, uniqueMarker } from "../harness/index.js";
import { oscd } from "../integration/builder/helpers.js";

/**
 * Netboot end to end: `oscd image HOST --format netboot` records each host's kernel, initrd
 * and parameters in the signed manifest; `oscd server` serves them to SimHosts on the test
 * bridge by host token or MAC address, each machine getting exactly its own system's files,
 * checked against the signed hashes before any byte is sent; wrong, revoked and admin tokens
 * and unknown MACs get nothing. `oscd netboot -o DIR` writes the same files statically.
 */
const key = generateSecretKey("fleet-netboot");
const rootDir = "/nix/var/nix/gcroots/oscd-tests-e2e-netboot";
let dir: string;
let fleet: FleetRepo;
let cache: string;
let keyFile: string;
let server: RunningServer;
let admin: string;
let manifest: Manifest;
const hosts = new Map<string, SimHost>();
const tokens = new Map<string, string>();
const macs = new Map<string, string>();

async function macOf(h: SimHost): Promise<string> {
  const r = await h.exec(["ip", "-o", "link", "show", "eth0"]);
  const m = /link\/ether ([0-9a-f:]{17})/.exec(r.stdout);
  if (!m) throw new Error(`no MAC address in ${r.stdout}`);
  return m[1]!;
}

/** A GET from inside a SimHost: status and body bytes (curl writes the body to a file in the host). */
async function fetchOn(h: SimHost, url: string): Promise<{ status: number; body: Buffer }> {
  const out = `/tmp/fetch-${randomBytes(4).toString("hex")}`;
  const r = await h.exec(["curl", "-sS", "-o", out, "-w", "%{http_code}", url]);
  const body = await readFile(h.path(out)).catch(() => Buffer.alloc(0));
  return { status: Number(r.stdout.trim()), body };
}

async function release(text: string): Promise<void> {
  const res = await fetch(`${server.url}/api/v1/releases?immediate=1`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: text });
  expect(res.status, await res.clone().text()).toBe(201);
}

beforeAll(async () => {
  dir = await tempDir("e2e-netboot");
  fleet = await FleetRepo.create({
    hosts: [
      { name: "nb1", kernelVersion: "6.1.11", marker: uniqueMarker() },
      { name: "nb2", kernelVersion: "6.1.12", marker: uniqueMarker() },
      { name: "nb3", marker: uniqueMarker() },
    ],
  });
  const publicKey = formatPublicKey(publicKeyOf(key));
  keyFile = join(dir, "fleet.secret");
  await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
  cache = join(dir, "cache");
  for (const name of ["nb1", "nb2", "nb3"]) {
    const h = await SimHost.create({ name });
    hosts.set(name, h);
    macs.set(name, await macOf(h));
  }
  // nb1 and nb3 are known by MAC; nb2 only by its token.
  await fleet.commitFile(
    "oscd.toml",
    `caches = ["file://${cache}"]\n[keys]\ntrusted = ["${publicKey}"]\n[hosts.nb1.netboot]\nmac = "${macs.get("nb1")!.toUpperCase()}"\n[hosts.nb3.netboot]\nmac = "${macs.get("nb3")}"\n[hosts.nb2]\n`,
  );
  for (const h of ["nb1", "nb2"]) {
    const r = await oscd(["image", h, "--format", "netboot", "--repo", fleet.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, "--json"], { env: { OSCD_SIGNING_KEY_FILE: keyFile } });
    expect(r.exitCode, r.stderr).toBe(0);
  }
  // nb3 is published without netboot files.
  const p = await oscd(["publish", "--on", "nb3", "--repo", fleet.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, "--json"], { env: { OSCD_SIGNING_KEY_FILE: keyFile } });
  expect(p.exitCode, p.stderr).toBe(0);
  const text = await readFile(join(cache, "channels", "main.json"), "utf8");
  manifest = parseManifest(text);
  verifyManifest(manifest, [publicKeyOf(key)]);

  const { gateway } = await testNetwork();
  server = await startServer({
    db: `sqlite:${join(dir, "server.db")}`,
    trusted: [publicKeyOf(key)],
    listen: `${gateway}:0`,
    netboot: { macs: netbootMacs((await loadFleet(fleet.dir)).config) },
  });
  admin = (await createToken(server.ctx.db, { kind: "admin" })).token;
  for (const name of ["nb1", "nb2", "nb3"]) tokens.set(name, (await createToken(server.ctx.db, { kind: "host", host: name, channel: "main" })).token);
  await release(text);
}, 300_000);

afterAll(async () => {
  for (const h of hosts.values()) await h.destroy();
  await server?.close();
  await fleet?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

const fileOf = (f: { path: string; file: string }) => readFile(join(f.path, f.file));

/** Boots like iPXE would: the script, then the kernel and initrd URLs it names. */
async function boot(h: SimHost, scriptUrl: string): Promise<{ script: string; kernel: Buffer; initrd: Buffer; cmdline: string }> {
  const s = await fetchOn(h, scriptUrl);
  expect(s.status, s.body.toString()).toBe(200);
  const script = s.body.toString();
  const k = /^kernel (\S+) (.*)$/m.exec(script);
  const i = /^initrd --name initrd (\S+)$/m.exec(script);
  expect(k && i, script).toBeTruthy();
  const kernel = await fetchOn(h, k![1]!);
  const initrd = await fetchOn(h, i![1]!);
  expect([kernel.status, initrd.status]).toEqual([200, 200]);
  return { script, kernel: kernel.body, initrd: initrd.body, cmdline: k![2]! };
}

describe("netboot from oscd server", () => {
  it("a SimHost booting with its token gets exactly its own system's iPXE script, kernel and initrd", async () => {
    for (const name of ["nb1", "nb2"]) {
      const h = hosts.get(name)!;
      const got = await boot(h, `${server.url}/netboot/token/${tokens.get(name)}/boot.ipxe`);
      const entry = manifest.hosts[name]!;
      expect(got.script.startsWith("#!ipxe\n")).toBe(true);
      expect(got.cmdline).toBe(`initrd=initrd init=${entry.toplevel}/init loglevel=4`);
      expect(got.kernel.equals(await fileOf(entry.netboot!.kernel))).toBe(true);
      expect(got.initrd.equals(await fileOf(entry.netboot!.initrd))).toBe(true);
      const kernelVersion = name === "nb1" ? "6.1.11" : "6.1.12";
      expect(got.kernel.toString()).toBe(`fake kernel ${kernelVersion}\n`);
      expect(got.initrd.toString()).toBe(`fake netboot ramdisk of ${name} version 1.0.0\n`);
      // Nothing of the other host: its system is named nowhere in the script.
      const other = manifest.hosts[name === "nb1" ? "nb2" : "nb1"]!;
      expect(got.script).not.toContain(other.toplevel);
    }
  });

  it("a SimHost known by its MAC address boots its own system; an unknown MAC gets nothing", async () => {
    const h = hosts.get("nb1")!;
    // What DHCP hands every machine: a script that chains by the MAC address iPXE fills in.
    const chain = await fetchOn(h, `${server.url}/netboot/boot.ipxe`);
    expect(chain.status).toBe(200);
    const m = /^chain (\S+) /m.exec(chain.body.toString());
    expect(m?.[1]).toBe(`${server.url}/netboot/mac/\${net0/mac}/boot.ipxe`);
    const got = await boot(h, m![1]!.replace("${net0/mac}", macs.get("nb1")!));
    expect(got.cmdline).toContain(`init=${manifest.hosts.nb1!.toplevel}/init`);
    expect(got.kernel.toString()).toBe("fake kernel 6.1.11\n");

    const unknown = await fetchOn(hosts.get("nb2")!, `${server.url}/netboot/mac/${macs.get("nb2")}/boot.ipxe`);
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body.toString())).toEqual({ error: { code: "netboot-unknown-mac", message: "no host has this MAC address" } });
    for (const part of ["kernel", "initrd"]) expect((await fetchOn(hosts.get("nb2")!, `${server.url}/netboot/mac/${macs.get("nb2")}/${part}`)).status).toBe(404);
  });

  it("a forged, revoked or admin token gets nothing and learns nothing of other hosts", async () => {
    const h = hosts.get("nb2")!;
    const real = tokens.get("nb1")!;
    // The same token id with another secret (the secret itself may hold '_': cut after the id).
    const forged = /^oscd_[0-9a-f]{16}_/.exec(real)![0] + randomBytes(32).toString("base64url").slice(0, 43);
    expect(forged).toHaveLength(real.length);
    for (const token of [forged, "oscd_0123456789abcdef_" + "A".repeat(43), "not-a-token", admin]) {
      for (const part of ["boot.ipxe", "kernel", "initrd"]) {
        const r = await fetchOn(h, `${server.url}/netboot/token/${encodeURIComponent(token)}/${part}`);
        expect(r.status).toBe(403);
        const body = r.body.toString();
        expect(JSON.parse(body).error.code).toBe("netboot-bad-token");
        for (const name of ["nb1", "nb2", "nb3"]) expect(body).not.toContain(manifest.hosts[name]!.toplevel);
        expect(body).not.toMatch(/nb[123]/);
      }
    }
    const made = await createToken(server.ctx.db, { kind: "host", host: "nb2", channel: "main" });
    expect((await fetchOn(h, `${server.url}/netboot/token/${made.token}/boot.ipxe`)).status).toBe(200);
    await revokeToken(server.ctx.db, made.id);
    expect((await fetchOn(h, `${server.url}/netboot/token/${made.token}/boot.ipxe`)).status).toBe(403);
  });

  it("a host whose entry has no netboot files gets a 404 naming only its own lack", async () => {
    const r = await fetchOn(hosts.get("nb3")!, `${server.url}/netboot/token/${tokens.get("nb3")}/boot.ipxe`);
    expect(r.status).toBe(404);
    const e = JSON.parse(r.body.toString()) as { error: { code: string; message: string } };
    expect(e.error.code).toBe("netboot-no-entry");
    expect(e.error.message).toBe("channel main has no netboot files for nb3: its entry has no netboot record");
    expect((await fetchOn(hosts.get("nb3")!, `${server.url}/netboot/mac/${macs.get("nb3")}/kernel`)).status).toBe(404);
  });

  it("a kernel whose bytes are not the signed ones is refused whole, never served half", async () => {
    // A signed release whose kernel hash is not that of the store's file: what a changed store file looks like to the server.
    const { signatures: _s, ...body } = manifest;
    const bad = JSON.parse(JSON.stringify(body)) as typeof body;
    bad.hosts.nb2!.netboot!.kernel.hash = `sha256-${createHash("sha256").update("another kernel").digest("base64")}`;
    const signed = signManifest({ ...bad, sequence: manifest.sequence + 1 }, key);
    await release(serializeManifest(signed));
    const h = hosts.get("nb2")!;
    const r = await fetchOn(h, `${server.url}/netboot/token/${tokens.get("nb2")}/kernel`);
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body.toString()).error.code).toBe("image-hash-mismatch");
    expect(r.body.toString()).not.toContain("fake kernel");
    // The initrd (unchanged) is still served; nb1's files are unaffected.
    expect((await fetchOn(h, `${server.url}/netboot/token/${tokens.get("nb2")}/initrd`)).status).toBe(200);
    expect((await fetchOn(hosts.get("nb1")!, `${server.url}/netboot/token/${tokens.get("nb1")}/kernel`)).status).toBe(200);
    await release(serializeManifest(signManifest({ ...body, sequence: manifest.sequence + 2 }, key)));
    expect((await fetchOn(h, `${server.url}/netboot/token/${tokens.get("nb2")}/kernel`)).status).toBe(200);
  });
});

describe("oscd netboot -o DIR", () => {
  it("writes each host's verified kernel, initrd and iPXE script as static files, and by-MAC scripts", async () => {
    const out = join(dir, "www");
    const r = await oscd(["netboot", "--manifest", join(cache, "channels", "main.json"), "--repo", fleet.dir, "-o", out, "--base-url", "http://boot.example.org/nb"]);
    expect(r.exitCode, r.stderr).toBe(0);
    for (const name of ["nb1", "nb2"]) {
      const n = manifest.hosts[name]!.netboot!;
      const version = n.toplevel.slice(11, 43);
      expect((await readFile(join(out, name, version, "kernel"))).equals(await fileOf(n.kernel))).toBe(true);
      expect((await readFile(join(out, name, version, "initrd"))).equals(await fileOf(n.initrd))).toBe(true);
      const script = await readFile(join(out, name, "boot.ipxe"), "utf8");
      expect(script).toContain(`kernel http://boot.example.org/nb/${name}/${version}/kernel initrd=initrd init=${n.toplevel}/init loglevel=4\n`);
    }
    expect(await readFile(join(out, "by-mac", macs.get("nb1")!, "boot.ipxe"), "utf8")).toBe(await readFile(join(out, "nb1", "boot.ipxe"), "utf8"));
    expect(await readFile(join(out, "boot.ipxe"), "utf8")).toContain("chain http://boot.example.org/nb/by-mac/${net0/mac}/boot.ipxe");
  });

  it("refuses a manifest not signed by the fleet key, writing nothing", async () => {
    const other = generateSecretKey("someone-else");
    const { signatures: _s, ...body } = manifest;
    await writeFile(join(dir, "foreign.json"), serializeManifest(signManifest(body, other)));
    const out = join(dir, "www-foreign");
    const r = await oscd(["netboot", "--manifest", join(dir, "foreign.json"), "--repo", fleet.dir, "-o", out, "--base-url", "http://boot.example.org/nb"]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain("error[manifest-untrusted]");
    await expect(readFile(join(out, "nb1", "boot.ipxe"))).rejects.toThrow();
  });
});
