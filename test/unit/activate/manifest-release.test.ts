import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeLocation, releaseFromManifest } from "../../../src/activate/manifest-release.js";
import { MANIFEST_SCHEMA, serializeManifest, signManifest } from "../../../src/manifest/index.js";
import { formatPublicKey, generateSecretKey, publicKeyOf } from "../../../src/nix/index.js";

const key = generateSecretKey("fleet-unit");
const trusted = [formatPublicKey(publicKeyOf(key))];
const web1 = "/nix/store/00000000000000000000000000000001-nixos-system-web1-1.0.0";
/** Inside the manifest's validity (2026-01-01 to 2026-01-08). */
const now = new Date("2026-01-02T00:00:00Z");
let dir: string;
let file: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-manifest-release-"));
  file = join(dir, "main.json");
  const m = signManifest(
    { schema: MANIFEST_SCHEMA, channel: "main", sequence: 3, version: "1.0.0", commit: "b".repeat(40), ref: "refs/tags/v1.0.0", createdAt: "2026-01-01T00:00:00Z", expiresAt: "2026-01-08T00:00:00Z", hosts: { web1: { toplevel: web1, system: "x86_64-linux" } }, caches: [] },
    key,
  );
  await writeFile(file, serializeManifest(m));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("releaseFromManifest", () => {
  it("returns this host's toplevel and the release facts the engine guards on", async () => {
    const r = await releaseFromManifest({ location: file, host: "web1", trustedPublicKeys: trusted, now, stateDir: dir });
    expect(r.toplevel).toBe(web1);
    expect(r.release).toEqual({ version: "1.0.0", commit: "b".repeat(40), ref: "refs/tags/v1.0.0", channel: "main", sequence: 3 });
    expect(r.signer).toBe("fleet-unit");
  });

  it("refuses a host the manifest does not name, even one named like an Object method", async () => {
    for (const host of ["web2", "toString", "__proto__", "constructor"]) {
      await expect(releaseFromManifest({ location: file, host, trustedPublicKeys: trusted, now, stateDir: dir })).rejects.toMatchObject({ code: "manifest-no-host", exitCode: 3 });
    }
  });

  it("refuses without trusted keys, and names bad locations as usage errors", async () => {
    await expect(releaseFromManifest({ location: file, host: "web1", trustedPublicKeys: [], now, stateDir: dir })).rejects.toMatchObject({ code: "manifest-untrusted", exitCode: 3 });
    await expect(releaseFromManifest({ location: join(dir, "none.json"), host: "web1", trustedPublicKeys: trusted, now, stateDir: dir })).rejects.toMatchObject({ code: "manifest-unreadable", exitCode: 2 });
    await expect(releaseFromManifest({ location: `ftp://example.org/main.json`, host: "web1", trustedPublicKeys: trusted, now, stateDir: dir })).rejects.toMatchObject({ code: "manifest-location", exitCode: 2 });
    await expect(releaseFromManifest({ location: file, host: "web1", trustedPublicKeys: ["nonsense"], now })).rejects.toMatchObject({ exitCode: 2 });
  });

  it("refuses an expired manifest, however well signed, and one without expiry unless allowed", async () => {
    const later = new Date("2026-01-09T00:00:00Z");
    await expect(releaseFromManifest({ location: file, host: "web1", trustedPublicKeys: trusted, now: later })).rejects.toMatchObject({ code: "manifest-expired", exitCode: 3 });
    const noExpiry = join(dir, "old.json");
    const m = signManifest(
      { schema: MANIFEST_SCHEMA, channel: "main", sequence: 2, version: "1.0.0", commit: "b".repeat(40), ref: "refs/tags/v1.0.0", createdAt: "2026-01-01T00:00:00Z", hosts: { web1: { toplevel: web1, system: "x86_64-linux" } }, caches: [] },
      key,
    );
    await writeFile(noExpiry, serializeManifest(m));
    await expect(releaseFromManifest({ location: noExpiry, host: "web1", trustedPublicKeys: trusted, now, stateDir: dir })).rejects.toMatchObject({ code: "manifest-no-expiry", exitCode: 3 });
    expect((await releaseFromManifest({ location: noExpiry, host: "web1", trustedPublicKeys: trusted, now, allowNoExpiry: true })).toplevel).toBe(web1);
  });

  it("never shows credentials or query parameters of a URL", () => {
    expect(describeLocation("https://user:secret@cache.example.org/channels/main.json?token=abc")).toBe("https://cache.example.org/channels/main.json");
    expect(describeLocation("/tmp/a\nb.json")).toBe("/tmp/a?b.json");
  });
});
