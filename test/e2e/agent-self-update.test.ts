import { cp, mkdir, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signManifest, serializeManifest } from "../../src/manifest/index.js";
import { copyTo, formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf, signPaths } from "../../src/nix/index.js";
import { AgentProcess, REPO_ROOT, SimHost, buildFakeToplevel, ensureBuilt, must, oscdOn, tempDir, uniqueMarker, waitFor } from "../harness/index.js";
import { OSCD_BIN } from "../harness/oscd.js";

/**
 * The agent moving to a new version of itself. A deployment whose system installs another
 * oscd-agent unit (here: another oscd package, a store path with its own dist/ and version) ends
 * with the new agent running and the deployment committed; a new agent that cannot start leaves
 * the machine on the committed system with the old agent back, saying why. The test hosts have no
 * systemd: the agent starts the new unit's command itself and hands over once it answers.
 */
let dir: string;
let cache: string;
let channelDir: string;
let publicKey: string;
const key = generateSecretKey("e2e-self-update");
let v1: string;
let v2: string;
let v3: string;
let v4: string;
let newVersion: string;
const hosts: SimHost[] = [];

const unit = (oscdJs: string) => `"[Service]\\nEnvironment=\\"OSCD_TEST_UNIT=1\\"\\nExecStart=${process.execPath} ${oscdJs} agent --config /root/agent.json\\n"`;

/** An oscd package in the store: its own bin/ and dist/ and package.json (so its own version); node_modules shared. */
async function oscdPackage(name: string, version: string, broken = false): Promise<string> {
  const d = join(dir, name);
  await mkdir(join(d, "bin"), { recursive: true });
  if (broken) {
    await writeFile(join(d, "bin", "oscd.js"), 'console.error("oscd: cannot start: this package is broken on purpose"); process.exit(1);\n');
  } else {
    await cp(join(REPO_ROOT, "bin", "oscd.js"), join(d, "bin", "oscd.js"));
    await cp(join(REPO_ROOT, "dist"), join(d, "dist"), { recursive: true });
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as Record<string, unknown>;
    await writeFile(join(d, "package.json"), JSON.stringify({ ...pkg, version }, null, 2));
    await symlink(await realpath(join(REPO_ROOT, "node_modules")), join(d, "node_modules"));
  }
  return (await must("nix-store", ["--add", d])).stdout.trim();
}

function writeManifest(sequence: number, toplevel: string, version: string): Promise<void> {
  const m = signManifest(
    {
      schema: "oscd.manifest/v1",
      channel: "main",
      sequence,
      version,
      commit: sequence.toString(16).padStart(40, "0"),
      ref: "refs/heads/main",
      createdAt: new Date(Date.now() - 1000).toISOString(),
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      hosts: { web1: { toplevel, system: "x86_64-linux" } },
      caches: [cache],
    },
    key,
  );
  return writeFile(join(channelDir, "main.json"), serializeManifest(m));
}

beforeAll(async () => {
  await ensureBuilt();
  dir = await tempDir("e2e-self-update");
  publicKey = formatPublicKey(publicKeyOf(key));
  await writeFile(join(dir, "key"), formatSecretKey(key), { mode: 0o600 });
  const m = uniqueMarker();
  newVersion = `9.9.9-selfupdate.${m}`;
  const fresh = await oscdPackage("oscd-new", newVersion);
  const broken = await oscdPackage("oscd-broken", "9.9.10", true);
  // v1 installs the unit the test starts the agent with; v2 the new package; v3 and v4 a broken one.
  v1 = await buildFakeToplevel({ hostname: "web1", version: "1.0.0", marker: `${m}-1`, agentUnitExpr: unit(OSCD_BIN) });
  v2 = await buildFakeToplevel({ hostname: "web1", version: "1.1.0", marker: `${m}-2`, agentUnitExpr: unit(`\${builtins.storePath "${fresh}"}/bin/oscd.js`) });
  v3 = await buildFakeToplevel({ hostname: "web1", version: "1.2.0", marker: `${m}-3`, agentUnitExpr: unit(`\${builtins.storePath "${broken}"}/bin/oscd.js`) });
  v4 = await buildFakeToplevel({ hostname: "web1", version: "1.3.0", marker: `${m}-4`, agentUnitExpr: unit(`\${builtins.storePath "${broken}"}/bin/oscd.js`) });
  // The new package is part of the system's closure, as a NixOS system holds its agent's package.
  expect((await must("nix-store", ["--query", "--requisites", v2])).stdout).toContain(fresh);
  const cacheDir = join(dir, "cache");
  cache = `file://${cacheDir}`;
  await copyTo(cache, [v1, v2, v3, v4]);
  await signPaths([v1, v2, v3, v4], join(dir, "key"), { store: cache, recursive: true });
  channelDir = join(dir, "channels");
  await mkdir(channelDir, { recursive: true });
}, 600_000);

afterAll(async () => {
  for (const h of hosts) await h.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Status {
  currentSystem?: string;
  agent: { pid: number; version: string; lastDeployment?: { outcome: string; toplevel: string }; selfUpdate?: { state: string; reason?: string } } | null;
}
async function status(h: SimHost): Promise<Status> {
  const r = await oscdOn(h, ["status", "--json"]);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Status;
}

describe("agent self-update", () => {
  it("a deployment that changes the agent's own package ends with the new agent running and the deployment committed; a new agent that cannot start leaves the old one running on the committed system, saying why", async () => {
    const h = await SimHost.create({ name: "web1" });
    hosts.push(h);
    await h.install(v1);
    await writeManifest(1, v1, "1.0.0");
    const agent = await AgentProcess.start(h, {
      hostname: "web1",
      trustedPublicKeys: [publicKey],
      manifest: { urls: [`file://${join(channelDir, "main.json")}`], pollInterval: 1, randomizedDelaySec: 0 },
      exporter: { enable: false },
      health: { retries: 0, systemdUnits: false },
      selfUpdate: { timeout: 60 },
    });
    await agent.waitForLog((l) => l.event === "started", 60_000, "the agent to start");
    const oldVersion = (await status(h)).agent?.version;
    expect(oldVersion).not.toBe(newVersion);

    // v2 carries a new oscd package: the agent deploys it, then hands over to the new agent.
    await writeManifest(2, v2, "1.1.0");
    const updated = await agent.waitForLog((l) => l.event === "self-updated", 180_000, "the new agent to report the self-update");
    expect(updated).toMatchObject({ from: oldVersion, to: newVersion, how: "handover" });
    expect(updated.pid).not.toBe(agent.pid);
    await waitFor(async () => !(await agent.alive()), 30_000, "the old agent to end");
    const s2 = await status(h);
    expect(s2.currentSystem).toBe(v2);
    expect(s2.agent).toMatchObject({ pid: updated.pid, version: newVersion, selfUpdate: { state: "done" } });
    const gens = JSON.parse((await oscdOn(h, ["generations", "--json"])).stdout) as { toplevel: string; current: boolean; version?: string }[];
    expect(gens.at(-1)).toMatchObject({ toplevel: v2, current: true, version: "1.1.0" });
    const hist = JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { lastDeployment?: { state: string; toplevel: string } };
    expect(hist.lastDeployment).toMatchObject({ state: "committed", toplevel: v2 });
    const lines = await agent.lines();
    // The new agent started as agents do: recovery first (nothing to recover), then its sources.
    expect(lines.filter((l) => l.pid === updated.pid && l.event === "started")).toHaveLength(1);
    expect(lines.some((l) => l.event === "self-update" && l.pid === agent.pid && l.how === "handover")).toBe(true);

    // v3's agent cannot start: the machine stays on v3 (committed) with the running agent back, which says why.
    await writeManifest(3, v3, "1.2.0");
    const failed = await agent.waitForLog((l) => l.event === "self-update-failed", 180_000, "the failed self-update to be reported");
    expect(failed.pid).toBe(updated.pid);
    expect(failed.code).toBe("agent-update-failed");
    expect(String(failed.message)).toMatch(/could not move to its new version, so 9\.9\.9-selfupdate\.\w+ runs again: the new agent \(.*oscd-broken.*\) exited before it answered/);
    const s3 = await status(h);
    expect(s3.currentSystem).toBe(v3);
    expect(s3.agent).toMatchObject({ pid: updated.pid, version: newVersion, selfUpdate: { state: "failed" } });
    expect((JSON.parse((await oscdOn(h, ["status", "--json"])).stdout) as { lastDeployment?: { state: string; toplevel: string } }).lastDeployment).toMatchObject({ state: "committed", toplevel: v3 });

    // The agent keeps working, and does not try the same broken unit again.
    await writeManifest(4, v4, "1.3.0");
    await waitFor(async () => (await h.currentSystem()) === v4, 120_000, "the agent to deploy v4");
    await agent.waitForLog((l) => l.event === "self-update-skipped" && l.pid === updated.pid, 30_000, "the known-broken unit to be skipped");
    expect((await status(h)).agent?.pid).toBe(updated.pid);
  }, 900_000);
});
