import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseManifest, serializeManifest, signManifest, MANIFEST_SCHEMA, type ManifestBody } from "../../src/manifest/index.js";
import { copyTo, formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf, signPaths, type SecretKey } from "../../src/nix/index.js";
import { parseTrustRoot } from "../../src/trust/index.js";
import { FleetRepo, ManifestServer, SimHost, buildFakeToplevel, oscdOn, tempDir, uniqueMarker } from "../harness/index.js";
import { oscd } from "../integration/builder/helpers.js";
import { wholeGeneration } from "./upgrade-helpers.js";

/**
 * The trust root end to end (issue 26): a host that was offline while the release key rotated
 * twice and the root key once walks every version from the channel's trust/ directory, refuses
 * what the first release key signs, and deploys what the current one signs, its closure
 * realised with the cache key the trust root names (its nix.conf and machine.toml trust none).
 * A sequence the leaked first key pushed to 10^12 does not lock the channel (fast-forward).
 * Then a 2-of-3 channel: `oscd publish --require-approval` writes a manifest with one
 * signature, the host refuses it, `oscd manifest sign` adds a second, and the host deploys it.
 */
let dir: string;
let www: string;
let server: ManifestServer;
const hosts: SimHost[] = [];
const files: Record<string, string> = {};
const keys: Record<string, SecretKey> = {};
const COMMIT = "c".repeat(40);

async function keyFiles(...names: string[]): Promise<void> {
  for (const n of names) {
    const k = generateSecretKey(n);
    keys[n] = k;
    files[`${n}.secret`] = join(dir, "keys", `${n}.secret`);
    files[`${n}.public`] = join(dir, "keys", `${n}.public`);
    await writeFile(files[`${n}.secret`] as string, formatSecretKey(k), { mode: 0o600 });
    await writeFile(files[`${n}.public`] as string, formatPublicKey(publicKeyOf(k)) + "\n");
  }
}

async function cli(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const r = await oscd(args);
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function must(args: string[]): Promise<string> {
  const r = await cli(args);
  expect(r.exitCode, `oscd ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

function manifest(seq: number, toplevel: string, signer: SecretKey, cache: string, createdAt = new Date()): string {
  const body: ManifestBody = {
    schema: MANIFEST_SCHEMA,
    channel: "main",
    sequence: seq,
    version: "1.0.0",
    commit: COMMIT,
    ref: "refs/heads/main",
    createdAt: createdAt.toISOString(),
    expiresAt: new Date(createdAt.getTime() + 7 * 86_400_000).toISOString(),
    signedAt: createdAt.toISOString(),
    hosts: { web1: { toplevel, system: "x86_64-linux" } },
    caches: [cache],
  };
  return serializeManifest(signManifest(body, signer));
}

beforeAll(async () => {
  dir = await tempDir("e2e-trust");
  www = join(dir, "www");
  await mkdir(join(dir, "keys"), { recursive: true });
  await mkdir(join(www, "channels", "trust"), { recursive: true });
  await keyFiles("root-1", "root-2", "release-1", "release-2", "release-3", "cache-1", "cache-2", "prod-a", "prod-b", "prod-c");
  server = await ManifestServer.start(www, "0.0.0.0");
  server.longPoll = false;
});
afterAll(async () => {
  for (const h of hosts) await h.destroy();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a host offline during three rotations", () => {
  it("walks every trust root version, refuses the first release key's manifest, and deploys the current key's; a 10^12 sequence of the leaked key does not lock the channel", async () => {
    const marker = uniqueMarker();
    const [t1, t2, t3] = await Promise.all([1, 2, 3].map((i) => buildFakeToplevel({ hostname: "web1", version: `1.${i}.0`, marker: `${marker}-${i}` })));
    const cache = `file://${join(dir, "cache")}`;
    await copyTo(cache, [t1 as string, t2 as string, t3 as string]);
    // Closures of the first releases are signed by cache-1, the last by cache-2 (the cache key rotates too).
    await signPaths([t1 as string, t2 as string], files["cache-1.secret"] as string, { store: cache, recursive: true });
    await signPaths([t3 as string], files["cache-2.secret"] as string, { store: cache, recursive: true });
    const trustDir = join(www, "channels", "trust");
    const v = (n: number) => join(dir, `${n}.root.json`);

    await must(["trust", "init", "-o", v(1), "--root-key", files["root-1.public"] as string, "--release-key", files["release-1.public"] as string, "--cache-key", files["cache-1.public"] as string, "--sign-key", files["root-1.secret"] as string]);
    expect(await must(["trust", "verify", v(1)])).toMatch(/^ok: trust root version 1 signed by root-1/);
    await must(["trust", "publish", v(1), "--to", trustDir]);

    const h = await SimHost.create({ name: "web1" });
    hosts.push(h);
    await mkdir(h.path("/etc/oscd"), { recursive: true });
    await copyFile(v(1), h.path("/etc/oscd/trust-root.json"));
    // No trusted keys anywhere but the trust root: not in machine.toml, not in nix.conf.
    await writeFile(h.path("/etc/oscd/machine.toml"), `host = "web1"\ntrustRoot = "/etc/oscd/trust-root.json"\n`);

    await writeFile(join(www, "channels", "main.json"), manifest(1, t1 as string, keys["release-1"] as SecretKey, cache));
    const first = await oscdOn(h, ["activate", "--manifest", server.url(h.network.gateway, "channels/main.json")]);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: t1, consistent: true });

    // Fast-forward: the first release key leaks, and the host applies sequence 10^12 it signed.
    await writeFile(join(www, "channels", "main-leaked.json"), manifest(1e12, t2 as string, keys["release-1"] as SecretKey, cache));
    const leaked = await oscdOn(h, ["activate", "--manifest", server.url(h.network.gateway, "channels/main-leaked.json")]);
    expect(leaked.exitCode, leaked.stderr).toBe(0);
    expect(JSON.parse(await readFile(h.path("/var/lib/oscd/channels.json"), "utf8"))).toMatchObject({ main: { sequence: 1e12 } });

    // The host is offline now. Release key 1 → 2, release key 2 → 3 (and cache key 1 → 2), root key 1 → 2.
    await must(["trust", "rotate", v(1), "-o", v(2), "--add-release-key", files["release-2.public"] as string, "--remove-release-key", "release-1", "--sign-key", files["root-1.secret"] as string]);
    await must(["trust", "rotate", v(2), "-o", v(3), "--add-release-key", files["release-3.public"] as string, "--remove-release-key", "release-2", "--add-cache-key", files["cache-2.public"] as string, "--remove-cache-key", "cache-1", "--sign-key", files["root-1.secret"] as string]);
    await must(["trust", "rotate", v(3), "-o", v(4), "--add-root-key", files["root-2.public"] as string, "--remove-root-key", "root-1", "--sign-key", files["root-1.secret"] as string]);
    // Version 4 lacks its own root key's signature: refused until root-2 signs it too.
    expect((await cli(["trust", "verify", v(4), "--previous", v(3)])).stderr).toMatch(/error\[trust-threshold\]: \S+4\.root\.json \(version 4\) is not signed by its own root keys: 0 of the 1 needed/);
    await must(["trust", "sign", v(4), "--sign-key", files["root-2.secret"] as string]);
    expect(await must(["trust", "verify", v(4), "--previous", v(3)])).toMatch(/signed by root-2 .*and by root-1 of the previous version/);
    expect(await must(["trust", "publish", v(2), v(3), v(4), "--to", trustDir])).toMatch(/4\.root\.json: written[\s\S]*root\.json: written/);

    // What the leaked key signs after the rotation, at an even higher sequence, and what the current key signs.
    await writeFile(join(www, "channels", "main-old.json"), manifest(1e12 + 1, t3 as string, keys["release-1"] as SecretKey, cache));
    await writeFile(join(www, "channels", "main.json"), manifest(3, t3 as string, keys["release-3"] as SecretKey, cache));

    // Back online: every version is walked (shown even though the manifest is then refused).
    const old = await oscdOn(h, ["activate", "--manifest", server.url(h.network.gateway, "channels/main-old.json")]);
    expect(old.exitCode, old.stderr).toBe(3);
    expect(old.stderr).toMatch(/trust\s+trust root version 1 → 4 \(walked 2, 3, 4\)/);
    expect(old.stderr).toMatch(/error\[manifest-untrusted\].*signed by release-1; trusted: release-3/);
    expect(parseTrustRoot(await readFile(h.path("/var/lib/oscd/trust/root.json"), "utf8")).version).toBe(4);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: t2, consistent: true, journalOpen: false });
    const shown = JSON.parse((await oscdOn(h, ["trust", "show", "--json"])).stdout) as { version: number; implicit: boolean };
    expect(shown).toMatchObject({ version: 4, implicit: false });

    // Sequence 3 is far below the 10^12 the leaked key pushed, yet it deploys: that floor belonged to the old epoch.
    const now = await oscdOn(h, ["activate", "--manifest", server.url(h.network.gateway, "channels/main.json")]);
    expect(now.exitCode, now.stderr).toBe(0);
    expect(now.stderr).toMatch(/manifest\s+channel main sequence 3, version 1\.0\.0, signed by release-3/);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: t3, consistent: true, journalOpen: false });
    const applied = JSON.parse(await readFile(h.path("/var/lib/oscd/channels.json"), "utf8")) as { main: { sequence: number; epoch?: string } };
    expect(applied.main.sequence).toBe(3);
    expect(applied.main.epoch).toBeDefined();

    // The version walked past is never taken again, and a replay of the older root is refused.
    await copyFile(v(2), join(trustDir, "root.json"));
    const replay = await oscdOn(h, ["trust", "update", "--from", server.url(h.network.gateway, "channels/trust/")]);
    expect(replay.exitCode, replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/version 2 was offered and refused \(older than 4\)/);
    await copyFile(v(4), join(trustDir, "root.json"));
  });
});

describe("a 2-of-3 channel", () => {
  let fleet: FleetRepo;
  afterAll(async () => {
    await fleet?.destroy();
  });

  it("oscd publish waits for approval, the host refuses one signature, and deploys the manifest once oscd manifest sign adds a second", async () => {
    fleet = await FleetRepo.create({ hosts: [{ name: "web2", marker: uniqueMarker() }] });
    const cacheDir = join(www, "prod");
    await fleet.commitFile("oscd.toml", `caches = ["file://${cacheDir}"]\n`);
    const root = join(dir, "prod.root.json");
    await must([
      "trust", "init", "-o", root, "--root-key", files["root-1.public"] as string,
      "--release-key", files["prod-a.public"] as string, "--release-key", files["prod-b.public"] as string, "--release-key", files["prod-c.public"] as string,
      "--release-threshold", "2", "--cache-key", files["prod-a.public"] as string, "--sign-key", files["root-1.secret"] as string,
    ]);
    await must(["trust", "publish", root, "--to", join(cacheDir, "channels", "trust")]);
    const state = join(dir, "publish-state");
    const publish = (extra: string[]) => cli(["publish", "--repo", fleet.dir, "--state-dir", state, "--roots-dir", join(dir, "roots"), "--sign-key", files["prod-a.secret"] as string, ...extra]);

    const refused = await publish([]);
    expect(refused.exitCode, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/error\[approval-required\]: channel main needs 2 release signatures/);
    const waiting = await publish(["--require-approval"]);
    expect(waiting.exitCode, waiting.stderr).toBe(0);
    expect(waiting.stderr).toMatch(/channel main sequence 1 waits for approval: 1 of 2 release signatures/);
    const manifestPath = join(cacheDir, "channels", "main.json");
    const m = parseManifest(await readFile(manifestPath, "utf8"));
    expect(m.signatures).toHaveLength(1);

    const h = await SimHost.create({ name: "web2" });
    hosts.push(h);
    await mkdir(h.path("/etc/oscd"), { recursive: true });
    await copyFile(root, h.path("/etc/oscd/trust-root.json"));
    await writeFile(h.path("/etc/oscd/machine.toml"), `host = "web2"\ntrustRoot = "/etc/oscd/trust-root.json"\n`);
    const url = server.url(h.network.gateway, "prod/channels/main.json");
    const one = await oscdOn(h, ["activate", "--manifest", url]);
    expect(one.exitCode, one.stderr).toBe(3);
    expect(one.stderr).toMatch(/error\[manifest-threshold\]: .* has 1 of the 2 release signatures the channel needs \(signed by prod-a\)/);
    expect(await h.currentSystem()).not.toBe(m.hosts.web2?.toplevel);

    // A key that is not one of the channel's is refused before anything is written.
    const stranger = await cli(["manifest", "sign", manifestPath, "--sign-key", files["release-3.secret"] as string, "--trust-root", join(cacheDir, "channels", "trust", "root.json")]);
    expect(stranger.exitCode, stranger.stderr).toBe(3);
    expect(stranger.stderr).toMatch(/error\[key-not-trusted\]/);
    const approved = await must(["manifest", "sign", manifestPath, "--sign-key", files["prod-b.secret"] as string, "--trust-root", join(cacheDir, "channels", "trust", "root.json")]);
    expect(approved).toMatch(/^signed: channel main sequence 1, signed by prod-a, prod-b; 2 of 2 release signatures \(enough: machines take it\)/);
    expect(approved).toContain(join(cacheDir, "channels", "main.1.json"));
    expect(parseManifest(await readFile(join(cacheDir, "channels", "main.1.json"), "utf8")).signatures).toHaveLength(2);

    const two = await oscdOn(h, ["activate", "--manifest", url]);
    expect(two.exitCode, two.stderr).toBe(0);
    expect(two.stderr).toMatch(/signed by prod-a, prod-b/);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: m.hosts.web2?.toplevel, consistent: true, journalOpen: false });
  });
});
