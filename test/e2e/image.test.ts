import { createHash } from "node:crypto";
import { readFile, rm, writeFile, appendFile, access } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf } from "../../src/nix/index.js";
import { parseManifest, serializeManifest, signManifest, verifyManifest, type Manifest } from "../../src/publish/index.js";
import { FleetRepo, SimHost, oscdOn, tempDir, uniqueMarker } from "../harness/index.js";
import { json, oscd } from "../integration/builder/helpers.js";

/**
 * `oscd image` end to end on the fixture fleet: images evaluated and built with the host's
 * toplevel, hashed, uploaded to the file cache and recorded, signed, in the channel manifest;
 * `oscd manifest verify` re-hashing the files and refusing a tampered one; the refusals of a
 * format the host lacks and of one its platform cannot build.
 */
let dir: string;
let fleet: FleetRepo;
let cache: string;
let keyFile: string;
let publicKey: string;
const key = generateSecretKey("fleet-image");
const rootDir = "/nix/var/nix/gcroots/oscd-tests-e2e-image";

interface ImageJson {
  host: string;
  format: string;
  toplevel: string;
  image?: { path: string; file: string; hash: string; size: number; toplevel: string };
  netboot?: { toplevel: string; kernel: { path: string; file: string; hash: string }; initrd: { path: string; file: string; hash: string }; params: string };
  written: string[];
  status?: string;
  sequence?: number;
}

beforeAll(async () => {
  dir = await tempDir("e2e-image");
  fleet = await FleetRepo.create({ hosts: ["web1", "web2"].map((name) => ({ name, marker: uniqueMarker() })), version: "2.3.4" });
  publicKey = formatPublicKey(publicKeyOf(key));
  keyFile = join(dir, "fleet.secret");
  await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
  cache = join(dir, "cache");
  await fleet.commitFile("oscd.toml", `caches = ["file://${cache}"]\n[keys]\ntrusted = ["${publicKey}"]\n`);
});

afterAll(async () => {
  await fleet?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

function image(host: string, format: string, ...extra: string[]) {
  return oscd(["image", host, "--format", format, "--repo", fleet.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, "--json", ...extra], { env: { OSCD_SIGNING_KEY_FILE: keyFile } });
}

function verify(file: string, ...extra: string[]) {
  return oscd(["manifest", "verify", file, "--trusted-key", publicKey, ...extra]);
}

async function current(): Promise<Manifest> {
  const m = parseManifest(await readFile(join(cache, "channels", "main.json"), "utf8"));
  verifyManifest(m, [publicKeyOf(key)]);
  return m;
}

const sri = (data: Buffer) => `sha256-${createHash("sha256").update(data).digest("base64")}`;

describe("oscd image", () => {
  it("builds the host's images with its system, uploads them and records signed entries in the manifest", async () => {
    const q = await image("web1", "qcow2", "-o", join(dir, "out"));
    expect(q.exitCode, q.stderr).toBe(0);
    const qj = json<ImageJson>(q);
    const iso = await image("web1", "iso", "-o", join(dir, "out"));
    expect(iso.exitCode, iso.stderr).toBe(0);
    const ij = json<ImageJson>(iso);

    const m = await current();
    const entry = m.hosts.web1!;
    expect(entry.toplevel).toBe(qj.toplevel);
    expect(Object.keys(entry.images ?? {}).sort()).toEqual(["iso", "qcow2"]);
    for (const [format, j] of [["qcow2", qj], ["iso", ij]] as const) {
      const img = entry.images![format]!;
      expect(img).toEqual(j.image);
      expect(img.toplevel).toBe(entry.toplevel);
      // The hash is of the file's own bytes, and the file names the host and the version.
      const bytes = await readFile(join(img.path, img.file));
      expect(bytes.toString()).toBe(`fake ${format} image of web1 version 2.3.4\n`);
      expect(img.hash).toBe(sri(bytes));
      expect(img.size).toBe(bytes.length);
      // Uploaded like any closure: the cache has the image's store path, signed.
      const narinfo = await readFile(join(cache, `${img.path.slice(11, 43)}.narinfo`), "utf8");
      expect(narinfo).toContain(`Sig: ${key.name}:`);
    }
    // The iso output holds two files: the one its filePath names is the image.
    expect(entry.images!.iso!.file).toBe("iso/nixos-web1.iso");
    expect(entry.images!.qcow2!.file).toBe("nixos.qcow2");
    // -o copies, checked against the same hash.
    expect(qj.written).toEqual([join(dir, "out", "web1-qcow2-nixos.qcow2")]);
    expect(sri(await readFile(qj.written[0]!))).toBe(qj.image!.hash);
    // A host without images keeps a plain entry.
    expect(m.hosts.web2).toBeUndefined();
  });

  it("the image entry is covered by the signature: an edited hash is refused, and oscd manifest verify re-hashes the files", async () => {
    const path = join(cache, "channels", "main.json");
    const ok = await verify(path, "--json");
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(json<{ files: { host: string; what: string }[] }>(ok).files.map((f) => f.what).sort()).toEqual(["iso image", "qcow2 image"]);

    const m = await current();
    const forged: Manifest = JSON.parse(JSON.stringify(m)) as Manifest;
    forged.hosts.web1!.images!.qcow2!.hash = `sha256-${createHash("sha256").update("evil").digest("base64")}`;
    await writeFile(join(dir, "forged.json"), serializeManifest(forged));
    const r = await verify(join(dir, "forged.json"));
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain("error[manifest-untrusted]");
  });

  it("a tampered image file is refused by oscd manifest verify, naming the file and the mismatch", async () => {
    const out = join(dir, "out");
    const good = await verify(join(cache, "channels", "main.json"), "--images", out);
    expect(good.exitCode, good.stderr).toBe(0);
    await appendFile(join(out, "web1-iso-nixos-web1.iso"), "x");
    const r = await verify(join(cache, "channels", "main.json"), "--images", out);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/error\[image-hash-mismatch\]: web1's iso image .*web1-iso-nixos-web1\.iso.* does not match the signed manifest/);
    expect(r.stderr.trim().split("\n")).toHaveLength(2); // one error line and its hint

    // Same length, other bytes: the hash, not only the size, is compared.
    const copy = join(out, "web1-qcow2-nixos.qcow2");
    const bytes = await readFile(copy);
    bytes[0] = bytes[0]! ^ 1;
    await writeFile(copy, bytes);
    await writeFile(join(out, "web1-iso-nixos-web1.iso"), await readFile(join((await current()).hosts.web1!.images!.iso!.path, "iso/nixos-web1.iso")));
    const r2 = await verify(join(cache, "channels", "main.json"), "--images", out);
    expect(r2.exitCode).toBe(3);
    expect(r2.stderr).toMatch(/error\[image-hash-mismatch\]: web1's qcow2 image .* sha256 /);

    // A file that cannot be read cannot be checked: a refusal, unless the caller opts out.
    await rm(copy);
    const r3 = await verify(join(cache, "channels", "main.json"), "--images", out);
    expect(r3.exitCode).toBe(3);
    expect(r3.stderr).toContain("error[image-file-missing]");
    expect((await verify(join(cache, "channels", "main.json"), "--skip-files")).exitCode).toBe(0);
  });

  it("on a machine without the images, oscd manifest verify fetches them from the cache and re-hashes them", async () => {
    const h = await SimHost.create({ name: "imgcheck" });
    try {
      const m = await current();
      const args = ["manifest", "verify", join(cache, "channels", "main.json"), "--trusted-key", publicKey, "--json"];
      const missing = await oscdOn(h, args);
      expect(missing.exitCode).toBe(3);
      expect(missing.stderr).toContain("error[image-file-missing]");
      const r = await oscdOn(h, [...args, "--substituter", `file://${cache}`]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(json<{ files: { what: string; path: string }[] }>(r).files.map((f) => f.path).sort()).toEqual(
        [join(m.hosts.web1!.images!.iso!.path, "iso/nixos-web1.iso"), join(m.hosts.web1!.images!.qcow2!.path, "nixos.qcow2")].sort(),
      );
      // The machine's own store now has them, fetched with the fleet's signatures checked.
      expect(await readFile(h.path(join(m.hosts.web1!.images!.qcow2!.path, "nixos.qcow2")), "utf8")).toBe("fake qcow2 image of web1 version 2.3.4\n");
    } finally {
      await h.destroy();
    }
  });

  it("a format the host's configuration lacks is refused naming the formats it has; nothing is published", async () => {
    const before = (await current()).sequence;
    const r = await image("web2", "vmdk");
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("error[image-no-attribute]: web2 has no image of format vmdk (it has iso, qcow2, sd-aarch64)");
    expect((await current()).sequence).toBe(before);
  });

  it("a format built for a platform this machine cannot build is refused before building; nothing is published", async () => {
    const before = (await current()).sequence;
    const r = await image("web2", "sd-aarch64");
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/error\[image-platform\]: web2's sd-aarch64 image is for aarch64-linux, and this machine builds x86_64-linux/);
    expect((await current()).sequence).toBe(before);
    expect((await current()).hosts.web2).toBeUndefined();
  });

  it("netboot records the system's kernel, its netboot ramdisk and parameters, hashed", async () => {
    const r = await image("web2", "netboot");
    expect(r.exitCode, r.stderr).toBe(0);
    const j = json<ImageJson>(r);
    const n = (await current()).hosts.web2!.netboot!;
    expect(n).toEqual(j.netboot);
    expect(n.toplevel).toBe(j.toplevel);
    expect(n.params).toBe(`init=${j.toplevel}/init loglevel=4`);
    expect(await readFile(join(n.kernel.path, n.kernel.file), "utf8")).toBe("fake kernel 6.1.0\n");
    expect(n.kernel.hash).toBe(sri(await readFile(join(n.kernel.path, n.kernel.file))));
    expect(n.initrd.hash).toBe(sri(await readFile(join(n.initrd.path, n.initrd.file))));
    // NixOS's system.build.netbootRamdisk (the initrd holding the store), built with the system.
    expect(await readFile(join(n.initrd.path, n.initrd.file), "utf8")).toBe("fake netboot ramdisk of web2 version 2.3.4\n");
  });

  it("a publish that changes a host's system drops the images of the old one and keeps those of an unchanged host", async () => {
    await fleet.commitHostChange("web2", uniqueMarker());
    const r = await oscd(["publish", "--repo", fleet.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, "--json"], { env: { OSCD_SIGNING_KEY_FILE: keyFile } });
    expect(r.exitCode, r.stderr).toBe(0);
    const m = await current();
    expect(m.hosts.web2!.netboot).toBeUndefined();
    expect(Object.keys(m.hosts.web1!.images ?? {}).sort()).toEqual(["iso", "qcow2"]);
  });

  it("oscd publish --netboot records every built host's netboot files for its new system", async () => {
    await fleet.commitHostChange("web1", uniqueMarker());
    const r = await oscd(["publish", "--netboot", "--repo", fleet.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, "--json"], { env: { OSCD_SIGNING_KEY_FILE: keyFile } });
    expect(r.exitCode, r.stderr).toBe(0);
    const m = await current();
    for (const name of ["web1", "web2"]) {
      const e = m.hosts[name]!;
      expect(e.netboot?.toplevel).toBe(e.toplevel);
      expect(e.netboot?.params).toBe(`init=${e.toplevel}/init loglevel=4`);
      expect(await readFile(join(e.netboot!.initrd.path, e.netboot!.initrd.file), "utf8")).toBe(`fake netboot ramdisk of ${name} version 2.3.4\n`);
    }
    // web1's system changed: its images of the old system are gone.
    expect(m.hosts.web1!.images).toBeUndefined();
    const v = await verify(join(cache, "channels", "main.json"), "--json");
    expect(v.exitCode, v.stderr).toBe(0);
    expect(json<{ files: unknown[] }>(v).files).toHaveLength(4);
  });

  it("an older manifest without images, signed before they existed, still verifies", async () => {
    const m = await current();
    const { signatures: _s, ...body } = m;
    const plain = signManifest({ ...body, hosts: { web1: { toplevel: m.hosts.web1!.toplevel, system: "x86_64-linux" } } }, key);
    expect(serializeManifest(plain)).not.toContain("images");
    await writeFile(join(dir, "plain.json"), serializeManifest(plain));
    const r = await verify(join(dir, "plain.json"));
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it("--no-publish builds and copies without a key; a classic fleet names its images in oscd.toml", async () => {
    const classic = await FleetRepo.create({ layout: "classic", hosts: ["c1"] });
    try {
      const run = (...extra: string[]) => oscd(["image", "c1", "--format", "qcow2", "--no-publish", "--repo", classic.dir, "--state-dir", join(dir, "state-classic"), "--roots-dir", rootDir, "--json", ...extra], { env: { OSCD_SIGNING_KEY_FILE: "" } });
      const none = await run();
      expect(none.exitCode).toBe(2);
      expect(none.stderr).toContain("error[image-no-attribute-path]");
      await classic.commitFile("oscd.toml", `[fleet]\nlayout = "classic"\nattribute = "hosts.{host}"\nimages = "images.{host}"\n[hosts.c1]\n`);
      const r = await run("-o", join(dir, "classic-out"));
      expect(r.exitCode, r.stderr).toBe(0);
      const j = json<ImageJson>(r);
      expect(j.status).toBeUndefined();
      expect(await readFile(join(dir, "classic-out", "c1-qcow2-nixos.qcow2"), "utf8")).toBe("fake qcow2 image of c1 version 1.0.0\n");
      await expect(access(join(dir, "state-classic"))).resolves.toBeUndefined();
      // Without a netboot ramdisk next to the toplevel, netboot uses the system's own initrd.
      const nb = await oscd(["image", "c1", "--format", "netboot", "--no-publish", "--repo", classic.dir, "--state-dir", join(dir, "state-classic"), "--roots-dir", rootDir, "--json"]);
      expect(nb.exitCode, nb.stderr).toBe(0);
      const n = json<ImageJson>(nb).netboot!;
      expect(await readFile(join(n.initrd.path, n.initrd.file), "utf8")).toBe("fake initrd 1 for 6.1.0\n");
      expect(await readFile(join(j.toplevel, "initrd"), "utf8")).toBe("fake initrd 1 for 6.1.0\n");
    } finally {
      await classic.destroy();
    }
  });

  it("--dry-run builds but uploads, writes and copies nothing; the plan names what the real run then does", async () => {
    const out = join(dir, "out-dry");
    const manifestBefore = await readFile(join(cache, "channels", "main.json"), "utf8");
    const r = await image("web2", "qcow2", "-o", out, "--dry-run");
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = json<{ dryRun: true; command: string; steps: { action: string; target: string; host?: string; detail?: string }[] }>(r);
    expect(plan).toMatchObject({ dryRun: true, command: "image" });
    expect(await readFile(join(cache, "channels", "main.json"), "utf8")).toBe(manifestBefore);
    await expect(access(out)).rejects.toThrow();
    expect(plan.steps.filter((s) => s.action === "upload").every((s) => s.host === "web2" && s.target === `file://${cache}`)).toBe(true);
    const write = plan.steps.find((s) => s.action === "write")!;
    expect(write.detail).toMatch(/^sequence (\d+) \(previous \d+\).*web1 carried over, web2 (new|changed \(images or netboot\))$/);
    const copy = plan.steps.find((s) => s.action === "copy")!;
    expect(copy.target).toBe(join(out, "web2-qcow2-nixos.qcow2"));
    // No narinfo of the image is in the cache yet.
    const imagePath = /^(\/nix\/store\/[^/]+)\//.exec(copy.detail!)![1]!;
    await expect(access(join(cache, `${imagePath.slice(11, 43)}.narinfo`))).rejects.toThrow();

    const real = json<ImageJson>(await image("web2", "qcow2", "-o", out));
    expect(real.written).toEqual([copy.target]);
    expect(real.image!.path).toBe(imagePath);
    const m = await current();
    expect(m.sequence).toBe(Number(/^sequence (\d+)/.exec(write.detail!)![1]));
    expect(m.hosts.web2!.images!.qcow2!.path).toBe(imagePath);
  });
});
