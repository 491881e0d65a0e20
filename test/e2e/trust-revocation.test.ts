import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serializeManifest, signManifest, MANIFEST_SCHEMA, type ManifestBody } from "../../src/manifest/index.js";
import { build, copyTo, formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf, signPaths } from "../../src/nix/index.js";
import { AgentProcess, DEPLOY_MACHINE_TOML, ManifestServer, deployFleet, oscdDeploy, oscdOn, tempDir, uniqueMarker, waitFor, type DeployFleet } from "../harness/index.js";
import { oscd } from "../integration/builder/helpers.js";
import { wholeGeneration } from "./upgrade-helpers.js";

/**
 * A signed revocation list (issue 26) is obeyed by every way a system reaches a machine: the
 * release it names is refused by `oscd activate --manifest`, by a push deploy, by a bundle and
 * by the agent, all with `release-revoked` and the host left on a whole generation; an agent
 * whose running release gets revoked reports it and, as the channel's trust root says
 * (`onRevoked = "rollback"`), goes back to the newest generation that is not revoked.
 */
let dir: string;
let www: string;
let server: ManifestServer;
let f: DeployFleet;
let agent: AgentProcess | undefined;
const root = generateSecretKey("root-rv");
const release = generateSecretKey("release-rv");
const files = { root: "", release: "", releasePublic: "", rootPublic: "", trust: "", revocations: "" };
let installed: string;
let revoked: string;
let good: string;
let cache: string;
const trustDir = () => join(www, "channels", "trust");

function manifest(seq: number, toplevel: string): string {
  const now = new Date();
  const body: ManifestBody = {
    schema: MANIFEST_SCHEMA,
    channel: "main",
    sequence: seq,
    version: `1.${seq}.0`,
    commit: "d".repeat(40),
    ref: "refs/heads/main",
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 86_400_000).toISOString(),
    signedAt: now.toISOString(),
    hosts: { rv1: { toplevel, system: "x86_64-linux" } },
    caches: [cache],
  };
  return serializeManifest(signManifest(body, release));
}

async function must(args: string[]): Promise<string> {
  const r = await oscd(args);
  expect(r.exitCode, `oscd ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

async function revoke(toplevels: string[]): Promise<void> {
  const prev = await readFile(files.revocations, "utf8").then(
    () => ["--previous", files.revocations],
    () => [],
  );
  await must(["trust", "revoke", "--channel", "main", ...prev, ...toplevels.flatMap((t) => ["--toplevel", t]), "--reason", "CVE-2026-0001", "-o", files.revocations, "--sign-key", files.release]);
  await must(["trust", "publish", files.revocations, "--to", trustDir()]);
}

beforeAll(async () => {
  dir = await tempDir("e2e-revocation");
  www = join(dir, "www");
  await mkdir(join(www, "channels", "trust"), { recursive: true });
  for (const [k, name] of [[root, "root"], [release, "release"]] as const) {
    await writeFile(join(dir, `${name}.secret`), formatSecretKey(k), { mode: 0o600 });
    await writeFile(join(dir, `${name}.public`), formatPublicKey(publicKeyOf(k)) + "\n");
  }
  Object.assign(files, { root: join(dir, "root.secret"), release: join(dir, "release.secret"), rootPublic: join(dir, "root.public"), releasePublic: join(dir, "release.public"), trust: join(dir, "1.root.json"), revocations: join(dir, "main.revocations.json") });
  await must(["trust", "init", "-o", files.trust, "--root-key", files.rootPublic, "--release-key", files.releasePublic, "--on-revoked", "rollback", "--sign-key", files.root]);
  await must(["trust", "publish", files.trust, "--to", trustDir()]);
  server = await ManifestServer.start(www, "0.0.0.0");
  server.longPoll = false;
  f = await deployFleet(["rv1"], {
    machineToml: `trustRoot = "/etc/oscd/trust-root.json"\n${DEPLOY_MACHINE_TOML}`,
    setUp: async (h) => {
      await copyFile(files.trust, h.path("/etc/oscd/trust-root.json"));
    },
  });
  const h = f.byName.get("rv1")!;
  installed = (await h.currentSystem()) as string;
  // Two more systems for rv1: a good one, and the fleet's HEAD, which gets revoked.
  const toplevelAt = async () => ((await build(f.fleet.nixSource(await f.fleet.head()), [f.fleet.attr("rv1")]))[0] as { outPath: string }).outPath;
  await f.fleet.commitHostChange("rv1", `good-${uniqueMarker()}`);
  good = await toplevelAt();
  await f.fleet.commitHostChange("rv1", `revoked-${uniqueMarker()}`);
  revoked = await toplevelAt();
  cache = `file://${join(dir, "cache")}`;
  await copyTo(cache, [revoked, good]);
  await signPaths([revoked, good], files.release, { store: cache, recursive: true });
  await revoke([revoked]);
});
afterAll(async () => {
  await agent?.kill("KILL").catch(() => undefined);
  await f?.destroy();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a revoked release", () => {
  it("is refused by oscd activate --manifest (which learns the revocation list beside the manifest)", async () => {
    const h = f.byName.get("rv1")!;
    await writeFile(join(www, "channels", "main.json"), manifest(1, revoked));
    const r = await oscdOn(h, ["activate", "--manifest", server.url(h.network.gateway, "channels/main.json")]);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/trust\s+revocation list version 1/);
    expect(r.stderr).toMatch(new RegExp(`error\\[release-revoked\\]: .*toplevel ${revoked.replace(/[.+]/g, "\\$&")}, revocation list of channel main version 1: CVE-2026-0001\\); no machine may activate it`));
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: installed, consistent: true, journalOpen: false });
  });

  it("is refused by a push deploy: the host's engine knows the list", async () => {
    const h = f.byName.get("rv1")!;
    const state = join(dir, "deploy-state");
    // HEAD of the fleet is the revoked system.
    const r = await oscdDeploy(f.fleet, ["--on", "rv1", "--json"], { stateDir: state });
    expect(r.exitCode, r.stderr).not.toBe(0);
    expect(`${r.stdout}\n${r.stderr}`).toMatch(/release-revoked/);
    expect(await h.currentSystem()).toBe(installed);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: installed, consistent: true, journalOpen: false });
  });

  it("is refused from a bundle that carries the trust directory", async () => {
    const h = f.byName.get("rv1")!;
    const out = join(dir, "bundle");
    await must(["bundle", "--on", "rv1", "-o", out, "--repo", f.fleet.dir, "--state-dir", join(dir, "bundle-state"), "--sign-key", files.release, "--trust-dir", trustDir(), "--channel", "main", "--sequence", "7"]);
    const r = await oscdOn(h, ["activate", "--bundle", out]);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/error\[release-revoked\]: bundle .* for rv1 is revoked/);
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: installed, consistent: true, journalOpen: false });
  });

  it("is refused by the agent; a running release that gets revoked is reported and rolled back (onRevoked = rollback)", async () => {
    const h = f.byName.get("rv1")!;
    const url = server.url(h.network.gateway, "channels/main.json");
    await writeFile(join(www, "channels", "main.json"), manifest(2, revoked));
    agent = await AgentProcess.start(h, {
      hostname: "rv1",
      trustRoot: "/etc/oscd/trust-root.json",
      manifest: { urls: [url], pollInterval: 1, randomizedDelaySec: 0, longPollSeconds: 0 },
      exporter: { enable: false },
      health: { retries: 0 },
    });
    const refusal = await agent.waitForLog((l) => l.event === "refused" && l.code === "release-revoked", 60_000, "the agent's refusal");
    expect(String(refusal.message)).toMatch(/revoked \(toplevel .*CVE-2026-0001/);
    expect(await h.currentSystem()).toBe(installed);

    await writeFile(join(www, "channels", "main.json"), manifest(3, good));
    await agent.waitForLog((l) => l.event === "deployed" && l.outcome === "committed" && l.toplevel === good, 120_000, "the good release deployed");
    expect(await h.currentSystem()).toBe(good);

    // Now the running release is revoked: reported, and the host goes back to the newest generation that is not.
    await revoke([good]);
    const reported = await agent.waitForLog((l) => l.event === "refused" && l.code === "release-revoked" && /running system/.test(String(l.message)), 60_000, "the running release reported revoked");
    expect(String(reported.message)).toMatch(new RegExp(`the running system ${good.replace(/[.+]/g, "\\$&")} is revoked .*rolling back to generation 1`));
    await waitFor(async () => (await h.currentSystem()) === installed, 120_000, "the rollback to the installed generation");
    const st = JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { agent: { trust?: { version: number; revocations?: number } } };
    expect(st.agent.trust).toMatchObject({ version: 1, revocations: 2 });
    expect(await wholeGeneration(h)).toMatchObject({ toplevel: installed, consistent: true, journalOpen: false });
  });
});
