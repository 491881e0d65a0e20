import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/core/exec.js";
import { parseManifest, type Manifest } from "../../src/manifest/index.js";
import { formatPublicKey, formatSecretKey, generateSecretKey, publicKeyOf } from "../../src/nix/index.js";
import { AgentProcess, FleetRepo, SimHost, oscdOn, tempDir, uniqueMarker, waitFor } from "../harness/index.js";
import { evaluateModule } from "../harness/nix-module.js";
import { syscallFilterPrefix } from "../harness/syscall-filter.js";
import { oscd } from "../integration/builder/helpers.js";

/**
 * The agent under the NixOS unit's system call filter and address families, taken from
 * nix/module.nix itself: Node and a whole deployment (fetch, realise from the cache, profile,
 * switch-to-configuration, a health command, reports of status and metrics) work inside them,
 * and a call outside them (swapoff, an AF_PACKET socket) fails with EPERM instead of killing
 * the agent. The filter is applied without systemd (libseccomp, syscall-filter.c), as systemd
 * applies SystemCallFilter= with SystemCallErrorNumber=EPERM.
 */
let dir: string;
let fleet: FleetRepo;
let host: SimHost;
let agent: AgentProcess | undefined;
let prefix: string[];
let keyFile: string;
let publicKey: string;
const rootDir = "/nix/var/nix/gcroots/oscd-tests-e2e-agent-hardening";
const key = generateSecretKey("fleet-hardening");

beforeAll(async () => {
  const unit = (await evaluateModule({ package: "/nix/store/00000000000000000000000000000000-oscd", trustedPublicKeys: [formatPublicKey(publicKeyOf(key))], agent: { enable: true, manifest: { urls: ["file:///x.json"] } } })).unit;
  const filter = unit?.serviceConfig.SystemCallFilter as string[];
  const families = unit?.serviceConfig.RestrictAddressFamilies as string[];
  expect(filter.length).toBeGreaterThan(0);
  expect(unit?.serviceConfig.SystemCallErrorNumber).toBe("EPERM");
  prefix = await syscallFilterPrefix(filter, families);
  dir = await tempDir("e2e-agent-hardening");
  fleet = await FleetRepo.create({ hosts: [{ name: "h1", marker: uniqueMarker() }] });
  publicKey = formatPublicKey(publicKeyOf(key));
  keyFile = join(dir, "fleet.secret");
  await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
  await fleet.commitFile("oscd.toml", `caches = ["file://${join(dir, "cache")}"]\n[keys]\ntrusted = ["${publicKey}"]\n`);
  host = await SimHost.create({ name: "h1" });
}, 300_000);

afterAll(async () => {
  await agent?.kill("KILL").catch(() => undefined);
  await host?.destroy();
  await fleet?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

describe("the agent under the unit's system call filter", () => {
  it("the filter bites: a call outside it and a socket of another family fail with EPERM, the same commands without it do not", async () => {
    const swap = ["swapoff", join(dir, "no-such-swap")];
    const without = await run(swap[0]!, swap.slice(1), { timeoutMs: 30_000 });
    expect(without.stderr).not.toMatch(/Not superuser|Operation not permitted/);
    const filtered = await run(prefix[0]!, [...prefix.slice(1), ...swap], { timeoutMs: 30_000 });
    expect(filtered.stderr).toMatch(/Not superuser|Operation not permitted/);
    const packet = ["python3", "-c", "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW); print('packet ok')"];
    expect((await run(packet[0]!, packet.slice(1), { timeoutMs: 30_000 })).stdout.trim()).toBe("packet ok");
    const packetFiltered = await run(prefix[0]!, [...prefix.slice(1), ...packet], { timeoutMs: 30_000 });
    expect(packetFiltered.stderr).toMatch(/PermissionError: \[Errno 1\] Operation not permitted/);
    // Node itself, and the families the agent needs, work inside it.
    const listen = "require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log('inet ok'); process.exit(0); });";
    const inet = await run(prefix[0]!, [...prefix.slice(1), process.execPath, "-e", listen], { timeoutMs: 30_000 });
    expect(inet.stdout.trim(), inet.stderr).toBe("inet ok");
  });

  it("a release is fetched, realised, switched to and health-checked, and status and metrics answer, all inside the filter", async () => {
    agent = await AgentProcess.start(
      host,
      {
        hostname: "h1",
        trustedPublicKeys: [publicKey],
        manifest: { urls: [`file://${join(dir, "cache", "channels", "main.json")}`], pollInterval: 1, randomizedDelaySec: 0 },
        exporter: { listenAddress: "0.0.0.0", port: 4243 },
        health: { commands: [["sh", "-c", "test -e /run/current-system"]], retries: 0 },
      },
      { wrap: prefix },
    );
    const r = await oscd(["publish", "--repo", fleet.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, "--json"], { env: { OSCD_SIGNING_KEY_FILE: keyFile } });
    expect(r.exitCode, r.stderr).toBe(0);
    const manifest: Manifest = parseManifest(await readFile(join(dir, "cache", "channels", "main.json"), "utf8"));
    const want = manifest.hosts.h1!.toplevel;
    await agent.waitForLog((l) => l.event === "deployed" && l.outcome === "committed" && l.toplevel === want, 120_000, "the deployment under the filter");
    expect(await host.currentSystem()).toBe(want);
    const status = await oscdOn(host, ["status", "--json"]);
    expect(status.exitCode, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { agent: { lastDeployment?: { outcome: string } } }).agent.lastDeployment?.outcome).toBe("committed");
    await waitFor(async () => (await fetch(`http://${host.address}:4243/metrics`).then((m) => m.text()).catch(() => "")).includes("oscd_last_deployment_failed 0"), 30_000, "metrics from the filtered agent");
    // Nothing the agent did was refused by the filter.
    expect((await agent.lines()).filter((l) => JSON.stringify(l).includes("EPERM") || JSON.stringify(l).includes("not permitted"))).toEqual([]);
    expect(await agent.alive()).toBe(true);
  });
});
