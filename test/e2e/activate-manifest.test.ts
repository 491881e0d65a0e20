import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serializeManifest, signManifest, MANIFEST_SCHEMA, type ManifestBody } from "../../src/manifest/index.js";
import { copyTo, formatPublicKey, generateSecretKey, publicKeyOf, signPaths, formatSecretKey, type SecretKey } from "../../src/nix/index.js";
import { SimHost, buildFakeToplevel, oscdOn, tempDir, uniqueMarker } from "../harness/index.js";
import { wholeGeneration } from "./upgrade-helpers.js";

/**
 * `oscd activate --manifest`: the system and its release facts come from a signed channel
 * manifest; the signature, this host's entry, the channel sequence (replay) and the version
 * (downgrade) are guarded. `--release-version` gives the downgrade check without a manifest.
 */
let dir: string;
let fleetKey: SecretKey;
let otherKey: SecretKey;
let cache: string;
let v1: string;
let v2: string;
let v3: string;
let web2: string;
let server: Server;
let baseUrl: string;
const hosts: SimHost[] = [];

const COMMIT = "a".repeat(40);

function manifest(sequence: number, version: string, entries: Record<string, string>, key: SecretKey = fleetKey, validForMs = 86_400_000): string {
  const createdAt = new Date(Date.now() - 3_600_000);
  const body: ManifestBody = {
    schema: MANIFEST_SCHEMA,
    channel: "main",
    sequence,
    version,
    commit: COMMIT,
    ref: "refs/heads/main",
    createdAt: createdAt.toISOString(),
    expiresAt: new Date(createdAt.getTime() + validForMs).toISOString(),
    hosts: Object.fromEntries(Object.entries(entries).map(([h, toplevel]) => [h, { toplevel, system: "x86_64-linux" }])),
    caches: [cache],
  };
  return serializeManifest(signManifest(body, key));
}

async function manifestFile(name: string, text: string): Promise<string> {
  const p = join(dir, "manifests", name);
  await writeFile(p, text);
  return p;
}

async function host(opts: { substituters?: boolean } = {}): Promise<SimHost> {
  const h = await SimHost.create({ name: "web1" });
  hosts.push(h);
  await mkdir(h.path("/etc/oscd"), { recursive: true });
  const subs = opts.substituters === false ? "" : `substituters = ["${cache}"]\n`;
  await writeFile(h.path("/etc/oscd/machine.toml"), `host = "web1"\n${subs}trustedPublicKeys = ["${formatPublicKey(publicKeyOf(fleetKey))}"]\n`);
  return h;
}

beforeAll(async () => {
  dir = await tempDir("e2e-activate-manifest");
  await mkdir(join(dir, "manifests"));
  fleetKey = generateSecretKey("fleet-e2e-manifest");
  otherKey = generateSecretKey("fleet-e2e-manifest");
  await writeFile(join(dir, "key"), formatSecretKey(fleetKey), { mode: 0o600 });
  const marker = uniqueMarker();
  [v1, v2, v3, web2] = await Promise.all([
    buildFakeToplevel({ hostname: "web1", version: "1.0.0", marker: `${marker}-1` }),
    buildFakeToplevel({ hostname: "web1", version: "1.1.0", marker: `${marker}-2` }),
    buildFakeToplevel({ hostname: "web1", version: "1.2.0", marker: `${marker}-3` }),
    buildFakeToplevel({ hostname: "web2", version: "1.1.0", marker }),
  ]);
  cache = `file://${join(dir, "cache")}`;
  await copyTo(cache, [v1, v2, v3, web2]);
  await signPaths([v1, v2, v3, web2], join(dir, "key"), { store: cache, recursive: true });
  // Manifests over http from the test process, as an agent would fetch them.
  server = createServer((req, res) => {
    readFile(join(dir, "manifests", (req.url ?? "").replace(/^\/+/, "").replace(/\//g, "")))
      .then((b) => res.writeHead(200, { "content-type": "application/json" }).end(b))
      .catch(() => res.writeHead(404).end());
  });
  await new Promise<void>((r) => server.listen(0, "0.0.0.0", r));
  const h = await host();
  baseUrl = `http://${h.network.gateway}:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const h of hosts) await h.destroy();
  server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("oscd activate --manifest", () => {
  it("realises the entry from the caches the signed manifest names when the machine configures none", async () => {
    const h = await host({ substituters: false });
    const r = await oscdOn(h, ["activate", "--manifest", await manifestFile("caches.json", manifest(1, "1.0.0", { web1: v1 }))]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: v1, consistent: true, journalOpen: false });
  });

  it("activates this host's entry of a signed manifest from a URL, records its sequence, and refuses an older one", async () => {
    const h = hosts[0] as SimHost;
    await manifestFile("main.5.json", manifest(5, "1.1.0", { web1: v2, web2 }));
    const r = await oscdOn(h, ["activate", "--manifest", `${baseUrl}/main.5.json`]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/│ manifest +channel main sequence 5, version 1\.1\.0, signed by fleet-e2e-manifest/);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: v2, consistent: true, journalOpen: false });
    expect(JSON.parse(await readFile(h.path("/var/lib/oscd/channels.json"), "utf8"))).toMatchObject({ main: { sequence: 5, toplevel: v2 } });
    const gens = JSON.parse((await oscdOn(h, ["generations", "--json"])).stdout) as { version?: string; commit?: string }[];
    expect(gens.at(-1)).toMatchObject({ version: "1.1.0", commit: COMMIT });

    // An older signed manifest (a replay), even one naming a newer version, is refused.
    const old = await manifestFile("main.4.json", manifest(4, "1.2.0", { web1: v3 }));
    const replay = await oscdOn(h, ["activate", "--manifest", old]);
    expect(replay.exitCode, replay.stderr).toBe(3);
    expect(replay.stderr).toMatch(/^oscd: error\[manifest-replay\]: channel main: sequence 4 is not newer than 5, the last one this host applied$/m);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: v2, consistent: true, journalOpen: false });

    // A newer manifest with an older version is a downgrade: refused unless asked for.
    const down = await manifestFile("main.6.json", manifest(6, "1.0.0", { web1: v1 }));
    const refused = await oscdOn(h, ["activate", "--manifest", down]);
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toMatch(/error\[downgrade\]: version 1\.0\.0 is older than the running 1\.1\.0/);
    const allowed = await oscdOn(h, ["activate", "--manifest", down, "--allow-downgrade"]);
    expect(allowed.exitCode, allowed.stderr).toBe(0);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: v1, consistent: true });
    expect(JSON.parse(await readFile(h.path("/var/lib/oscd/channels.json"), "utf8"))).toMatchObject({ main: { sequence: 6 } });
  });

  it("refuses a manifest signed by a key this machine does not trust, changing nothing", async () => {
    const h = await host();
    const forged = await manifestFile("forged.json", manifest(7, "9.0.0", { web1: v3 }, otherKey));
    const r = await oscdOn(h, ["activate", "--manifest", forged]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/^oscd: error\[manifest-untrusted\]: .*forged\.json is not signed by a trusted key/m);
    expect(await h.currentSystem()).toBeUndefined();
    // Edited after signing: the trusted key's signature no longer matches.
    const edited = (await readFile(join(dir, "manifests", "main.5.json"), "utf8")).replace(v2, v3);
    const r2 = await oscdOn(h, ["activate", "--manifest", await manifestFile("edited.json", edited)]);
    expect(r2.exitCode).toBe(3);
    expect(r2.stderr).toMatch(/error\[manifest-untrusted\]: .*does not match the content/);
    expect(await h.currentSystem()).toBeUndefined();
  });

  it("refuses an expired manifest: a replayed last-good file must not hold the host back", async () => {
    const h = await host();
    const stale = await manifestFile("expired.json", manifest(10, "1.1.0", { web1: v2 }, fleetKey, 60_000));
    const r = await oscdOn(h, ["activate", "--manifest", stale]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/^oscd: error\[manifest-expired\]: channel main sequence 10 expired at /m);
    expect(await h.currentSystem()).toBeUndefined();
  });

  it("refuses a manifest without an entry for this host, and a toplevel that is not its entry", async () => {
    const h = await host();
    const other = await manifestFile("web2-only.json", manifest(8, "1.1.0", { web2 }));
    const r = await oscdOn(h, ["activate", "--manifest", other]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/^oscd: error\[manifest-no-host\]: .*web2-only\.json \(channel main, sequence 8\) has no entry for host web1$/m);
    const both = await manifestFile("both.json", manifest(9, "1.1.0", { web1: v2, web2 }));
    const mismatch = await oscdOn(h, ["activate", "--manifest", both, web2]);
    expect(mismatch.exitCode).toBe(3);
    expect(mismatch.stderr).toMatch(/error\[manifest-mismatch\]: .*nixos-system-web2.* is not what .* names for host web1/);
    expect(await h.currentSystem()).toBeUndefined();
    expect((await oscdOn(h, ["activate", "--manifest", both, v2])).exitCode).toBe(0);
  });

  it("--release-version guards against a downgrade without a manifest", async () => {
    const h = await host();
    expect((await oscdOn(h, ["activate", "--release-version", "1.2.0", v3])).exitCode).toBe(0);
    const r = await oscdOn(h, ["activate", "--release-version", "1.0.0", v1]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/error\[downgrade\]: version 1\.0\.0 is older than the running 1\.2\.0/);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: v3, consistent: true, journalOpen: false });
    const commitPrefix = await oscdOn(h, ["activate", "--release-version", "0a1b2c3d4e5f", v2]);
    expect(commitPrefix.exitCode).toBe(3);
    expect(commitPrefix.stderr).toMatch(/error\[version-unverifiable\]/);
    const ok = await oscdOn(h, ["activate", "--release-version", "1.0.0", "--allow-downgrade", v1]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: v1, consistent: true });
  });

  it("refuses a bare toplevel on a machine that runs a release (version-unverifiable), unless its release is given or the check given up", async () => {
    const h = await host();
    expect((await oscdOn(h, ["activate", "--manifest", await manifestFile("running.json", manifest(20, "1.1.0", { web1: v2 }))])).exitCode).toBe(0);
    // v1 is the older system; nothing on the command line says so.
    const r = await oscdOn(h, ["activate", v1]);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^oscd: error\[version-unverifiable\]: this machine runs release 1\.1\.0, and nothing says which release \/nix\/store\/[^ ]*-nixos-system-web1-1\.0\.0 is, so a downgrade cannot be ruled out$/m);
    expect(r.stderr).toMatch(/^hint: .*--release-version.*--allow-unchecked-version/m);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: v2, consistent: true, journalOpen: false, locked: false });
    const s = JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { lastDeployment: { state: string; error: string } };
    expect(s.lastDeployment).toMatchObject({ state: "aborted", error: expect.stringMatching(/nothing says which release/) });
    // --release-version gives the check its answer: here, a downgrade.
    const told = await oscdOn(h, ["activate", "--release-version", "1.0.0", v1]);
    expect(told.stderr).toMatch(/error\[downgrade\]/);
    // --manifest gives it from the signed manifest.
    const newer = await oscdOn(h, ["activate", "--manifest", await manifestFile("newer.json", manifest(21, "1.2.0", { web1: v3 }))]);
    expect(newer.exitCode, newer.stderr).toBe(0);
    expect((await oscdOn(h, ["activate", v2])).stderr).toMatch(/error\[version-unverifiable\]: this machine runs release 1\.2\.0/);
    const stated = await oscdOn(h, ["activate", "--release-version", "1.3.0", v2]);
    expect(stated.exitCode, stated.stderr).toBe(0);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: v2, consistent: true });
    // Given up explicitly.
    const unchecked = await oscdOn(h, ["activate", "--allow-unchecked-version", v1]);
    expect(unchecked.exitCode, unchecked.stderr).toBe(0);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: v1, consistent: true, journalOpen: false });
  });

  it("refuses a toplevel without etc/hostname unless the host check is given up", async () => {
    const h = await host();
    const nameless = await buildFakeToplevel({ hostname: "", marker: uniqueMarker() });
    await h.importFromMachine([nameless]);
    const r = await oscdOn(h, ["activate", nameless]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/^oscd: error\[host-unverifiable\]: .* names no host \(etc\/hostname is empty\)/m);
    expect(await h.currentSystem()).toBeUndefined();
    const s = JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { lastDeployment: { state: string; error: string } };
    expect(s.lastDeployment).toMatchObject({ state: "aborted" });
    const ok = await oscdOn(h, ["activate", "--allow-unchecked-host", nameless]);
    expect(ok.exitCode, ok.stderr).toBe(0);
  });
});
