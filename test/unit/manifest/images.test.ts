import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSecretKey, publicKeyOf } from "../../../src/nix/index.js";
import {
  ipxeScript,
  manifestSigningBytes,
  netbootOf,
  parseManifest,
  readVerifiedFile,
  serializeManifest,
  signManifest,
  verifyManifest,
  type ManifestBody,
  type NetbootEntry,
} from "../../../src/manifest/index.js";
import { manifestBody, WEB1_TOPLEVEL } from "../../harness/manifest-body.js";

const key = generateSecretKey("fleet-1");
const pub = publicKeyOf(key);
const TOP = WEB1_TOPLEVEL;
const sri = (s: string | Buffer) => `sha256-${createHash("sha256").update(s).digest("base64")}`;

const netboot: NetbootEntry = {
  toplevel: TOP,
  kernel: { path: "/nix/store/22222222222222222222222222222222-linux-6.1", file: "bzImage", hash: sri("k"), size: 1 },
  initrd: { path: "/nix/store/33333333333333333333333333333333-initrd", file: "initrd", hash: sri("i"), size: 1 },
  params: `init=${TOP}/init loglevel=4`,
};

function body(withImages = true): ManifestBody {
  return manifestBody({
    hosts: {
      web1: {
        toplevel: TOP,
        system: "x86_64-linux",
        ...(withImages ? { images: { qcow2: { toplevel: TOP, path: "/nix/store/44444444444444444444444444444444-image", file: "nixos.qcow2", hash: sri("q"), size: 1 } }, netboot: structuredClone(netboot) } : {}),
      },
    },
    caches: [],
  });
}

describe("image and netboot entries in the manifest", () => {
  it("are covered by the signature: any change to an image or netboot field is refused", () => {
    const m = signManifest(body(), key);
    expect(verifyManifest(parseManifest(serializeManifest(m)), [pub]).name).toBe("fleet-1");
    const edits: ((b: ManifestBody) => void)[] = [
      (b) => (b.hosts.web1!.images!.qcow2!.hash = sri("evil")),
      (b) => (b.hosts.web1!.images!.qcow2!.size = 2),
      (b) => (b.hosts.web1!.images!.qcow2!.file = "other.qcow2"),
      (b) => (b.hosts.web1!.netboot!.params = `init=${TOP}/init loglevel=4 init=/bin/sh`),
      (b) => (b.hosts.web1!.netboot!.kernel.hash = sri("evil")),
      (b) => delete b.hosts.web1!.images,
    ];
    for (const edit of edits) {
      const copy = JSON.parse(JSON.stringify(m)) as typeof m;
      edit(copy);
      expect(() => verifyManifest(parseManifest(serializeManifest(copy)), [pub])).toThrow(/not signed by a trusted key/);
    }
  });

  it("are optional: a manifest signed without them has the same signed bytes as before they existed", () => {
    const plain = body(false);
    expect(manifestSigningBytes(plain)).not.toContain("images");
    expect(manifestSigningBytes(plain)).toBe(
      '{"caches":[],"channel":"main","commit":"' + "a".repeat(40) + '","createdAt":"2025-01-02T03:04:05.000Z","hosts":{"web1":{"system":"x86_64-linux","toplevel":"' + TOP + '"}},"ref":"v1.2.0","schema":"oscd.manifest/v1","sequence":4,"version":"1.2.0"}',
    );
    const m = signManifest(plain, key);
    expect(verifyManifest(parseManifest(serializeManifest(m)), [pub]).name).toBe("fleet-1");
  });

  it("refuses hashes, files and parameters an attacker could use to escape", () => {
    const bad: [string, (b: ManifestBody) => void][] = [
      ["short hash", (b) => (b.hosts.web1!.images!.qcow2!.hash = "sha256-abc=")],
      ["hex hash", (b) => (b.hosts.web1!.images!.qcow2!.hash = "sha256:" + "0".repeat(64))],
      // The same 32 bytes can be written with other last-character bits: only the canonical form.
      ["non-canonical base64", (b) => (b.hosts.web1!.images!.qcow2!.hash = sri("q").slice(0, 50) + "B=")],
      ["absolute file", (b) => (b.hosts.web1!.images!.qcow2!.file = "/etc/shadow")],
      ["file with ..", (b) => (b.hosts.web1!.images!.qcow2!.file = "../../etc/shadow")],
      ["file with a newline", (b) => (b.hosts.web1!.images!.qcow2!.file = "a\nb")],
      ["params with $", (b) => (b.hosts.web1!.netboot!.params = `init=${TOP}/init \${net0/mac}`)],
      ["params with a newline", (b) => (b.hosts.web1!.netboot!.params = `init=${TOP}/init\nshell`)],
      ["unknown key", (b) => ((b.hosts.web1!.images!.qcow2! as Record<string, unknown>).url = "http://x")],
      ["bad format name", (b) => (b.hosts.web1!.images = { "../x": b.hosts.web1!.images!.qcow2! })],
      ["negative size", (b) => (b.hosts.web1!.images!.qcow2!.size = -1)],
    ];
    for (const [what, edit] of bad) {
      const b = body();
      edit(b);
      const text = JSON.stringify({ ...b, signatures: [] });
      expect(() => parseManifest(text), what).toThrow(/not an oscd release manifest/);
    }
  });

  it("netbootOf gives only an entry for the host's own toplevel", () => {
    const m = signManifest(body(), key);
    expect(netbootOf(m, "web1")).toEqual(netboot);
    expect(() => netbootOf(m, "web2")).toThrow(expect.objectContaining({ code: "netboot-no-entry" }));
    expect(() => netbootOf(m, "constructor")).toThrow(expect.objectContaining({ code: "netboot-no-entry" }));
    const stale = body();
    stale.hosts.web1!.toplevel = "/nix/store/55555555555555555555555555555555-nixos-system-web1-1.3.0";
    expect(() => netbootOf(signManifest(stale, key), "web1")).toThrow(expect.objectContaining({ code: "netboot-stale" }));
  });

  it("the iPXE script carries the signed parameters and refuses what would break out of a line", () => {
    const s = ipxeScript(netboot, "http://10.0.0.1/netboot/token/abc/", "web1");
    expect(s).toBe(
      `#!ipxe\n# oscd netboot: web1, system ${TOP}\nkernel http://10.0.0.1/netboot/token/abc/kernel initrd=initrd init=${TOP}/init loglevel=4\ninitrd --name initrd http://10.0.0.1/netboot/token/abc/initrd\nboot\n`,
    );
    expect(() => ipxeScript({ ...netboot, params: "a\nshell" }, "http://x/", "web1")).toThrow();
    expect(() => ipxeScript({ ...netboot, params: "${x}" }, "http://x/", "web1")).toThrow();
    expect(() => ipxeScript(netboot, "http://x/ shell", "web1")).toThrow();
  });
});

describe("readVerifiedFile", () => {
  let dir: string;
  beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), "oscd-verified-"))));
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("returns the bytes only when size and sha256 are the signed ones", async () => {
    const f = join(dir, "kernel");
    await writeFile(f, "fake kernel\n");
    const entry = { hash: sri("fake kernel\n"), size: 12 };
    expect((await readVerifiedFile(entry, f, "k")).toString()).toBe("fake kernel\n");
    await writeFile(f, "fake kernel\nand more");
    await expect(readVerifiedFile(entry, f, "k")).rejects.toMatchObject({ code: "image-hash-mismatch" });
    await writeFile(f, "fake kernal\n");
    await expect(readVerifiedFile(entry, f, "k")).rejects.toMatchObject({ code: "image-hash-mismatch" });
    await writeFile(f, "short");
    await expect(readVerifiedFile(entry, f, "k")).rejects.toMatchObject({ code: "image-hash-mismatch" });
    await expect(readVerifiedFile(entry, join(dir, "missing"), "k")).rejects.toMatchObject({ code: "image-file-missing" });
  });
});
