import { appendFile, mkdir, mkdtemp, readdir, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { run } from "../../src/core/exec.js";
import { AgentProcess, clientKey, FleetRepo, REPO_ROOT, SimHost, testNetwork } from "../../test/harness/index.js";
import { DemoServer } from "./server.js";
import { must, oscd } from "./story.js";

export const HOSTS = ["web1", "web2", "db1"] as const;
/** The host the push deploy goes to: the only one with an sshd. */
export const PUSH_HOST = "web2";

/** Health as the fake NixOS systems expose it: the agents and the push deploy check it. */
const HEALTH = { systemdUnits: false, commands: [["grep", "-qx", "ok", "/run/fake-nixos/health"]], retries: 0, timeoutSeconds: 10 };
const MACHINE_TOML = `[health]\nsystemdUnits = false\ncommands = [["grep", "-qx", "ok", "/run/fake-nixos/health"]]\nretries = 0\ntimeoutSeconds = 10\n`;

/** Undo steps, run newest first, each at most once, every one even when another fails. */
export class Cleanup {
  private readonly steps: (() => Promise<unknown>)[] = [];
  add(f: () => Promise<unknown>): void {
    this.steps.push(f);
  }
  async run(): Promise<void> {
    for (let f = this.steps.pop(); f; f = this.steps.pop()) await f().catch(() => undefined);
  }
}

export interface World {
  work: string;
  keyFile: string;
  publicKey: string;
  server: DemoServer;
  fleet: FleetRepo;
  origin: string;
  hosts: Map<string, SimHost>;
  agents: Map<string, AgentProcess>;
  stateDir: string;
  rootsDir: string;
}

/**
 * Everything the story needs, each piece registered for cleanup as soon as it exists: a work
 * folder, the fleet's signing key, `oscd server` (its database and binary cache live under
 * /var/lib/oscd, which every simulated host has a private copy of, so hosts can reach the
 * cache only through the server), three hosts, the fleet repository with a bare `origin`, and
 * an agent on each host long-polling the server.
 */
export async function buildWorld(cleanup: Cleanup): Promise<World> {
  const work = await mkdtemp(join(tmpdir(), "oscd-demo-"));
  cleanup.add(() => rm(work, { recursive: true, force: true }));
  const rootsDir = `/nix/var/nix/gcroots/oscd-demo-${process.pid}`;
  cleanup.add(() => rm(rootsDir, { recursive: true, force: true }));

  const keys = JSON.parse((await oscd(["keys", "generate", "demo-fleet", "--json"], { cwd: work })).stdout) as { secretFile: string; publicKey: string };

  await mkdir("/var/lib/oscd", { recursive: true });
  const serverDir = await mkdtemp("/var/lib/oscd/demo-server-");
  cleanup.add(async () => {
    await rm(serverDir, { recursive: true, force: true });
    // Only when the demo left it empty: a machine's own oscd state stays.
    if ((await readdir("/var/lib/oscd").catch(() => ["?"])).length === 0) await rmdir("/var/lib/oscd").catch(() => undefined);
  });
  const net = await testNetwork();
  cleanup.add(async () => {
    const ports = await run("ip", ["-o", "link", "show", "master", net.bridge], { timeoutMs: 10_000 });
    if (ports.exitCode === 0 && ports.stdout.trim() === "") await run("ip", ["link", "del", net.bridge], { timeoutMs: 10_000 });
  });
  const server = await DemoServer.start(serverDir, net.gateway, keys.publicKey);
  cleanup.add(() => server.stop());

  const key = await clientKey();
  cleanup.add(() => rm(dirname(key.privateKey), { recursive: true, force: true }));
  const hosts = new Map<string, SimHost>();
  cleanup.add(async () => {
    for (const h of hosts.values()) await h.destroy();
  });
  await Promise.all(
    HOSTS.map(async (name) => {
      const h = await SimHost.create({ name, sshd: name === PUSH_HOST, substituters: [`${server.url}/cache`], trustedPublicKeys: [keys.publicKey] });
      hosts.set(name, h);
      const token = await server.hostToken(name);
      await writeFile(h.path("/root/server-token"), token + "\n", { mode: 0o600 });
      // Nix reads the cache with the host's own token (the cache takes any valid token).
      await writeFile(h.path("/etc/nix/netrc"), `machine ${net.gateway} login ${name} password ${token}\n`, { mode: 0o600 });
      await appendFile(h.path("/etc/nix/nix.conf"), "netrc-file = /etc/nix/netrc\n");
      await mkdir(h.path("/etc/oscd"), { recursive: true });
      await writeFile(h.path("/etc/oscd/machine.toml"), MACHINE_TOML);
    }),
  );

  const fleet = await FleetRepo.create({ hosts: [...HOSTS] });
  cleanup.add(() => fleet.destroy());
  const web2 = hosts.get(PUSH_HOST) as SimHost;
  const toml = [
    `caches = ["file://${server.cacheDir}"]`,
    "",
    "[fleet]",
    'name = "demo"',
    "",
    "[keys]",
    `trusted = ["${keys.publicKey}"]`,
    "",
    "[channels.main]",
    'branch = "main"',
    "",
    "# The channel's staged rollout: `oscd publish --server --rollout` and `oscd rollout start main` use it.",
    "[channels.main.rollout]",
    'waves = "canary=web1; rest"',
    'bake = "0s"',
    'waveTimeout = "2m"',
    "",
    `[hosts.${PUSH_HOST}]`,
    `ssh = "root@${web2.address}"`,
    "",
  ].join("\n");
  await fleet.commitFile("oscd.toml", toml, "Add the fleet file");
  const origin = join(work, "origin.git");
  await must("git", ["clone", "-q", "--bare", fleet.dir, origin]);
  await fleet.git(["remote", "add", "origin", origin]);
  await fleet.git(["fetch", "-q", "origin"]);

  const agents = new Map<string, AgentProcess>();
  for (const [name, h] of hosts) {
    const agent = await AgentProcess.start(h, {
      hostname: name,
      trustedPublicKeys: [keys.publicKey],
      substituters: [`${server.url}/cache`],
      // The control server in one setting; the host token stays in its file.
      server: { url: server.url, tokenFile: "/root/server-token", channel: "main" },
      manifest: { pollInterval: 1, randomizedDelaySec: 0, longPollSeconds: 30 },
      reports: { retryInterval: 1 },
      health: HEALTH,
      exporter: { enable: false },
    });
    agents.set(name, agent);
  }
  return { work, keyFile: resolve(work, keys.secretFile), publicKey: keys.publicKey, server, fleet, origin, hosts, agents, stateDir: join(work, "state"), rootsDir };
}

/** Where the facts are, for a test (or a curious reader) to check what the story claims. */
export async function writeFacts(file: string, w: World, claims: Record<string, unknown>): Promise<void> {
  const facts = {
    repo: REPO_ROOT,
    work: w.work,
    server: { url: w.server.url, adminTokenFile: w.server.adminTokenFile, dir: w.server.dir },
    fleet: w.fleet.dir,
    origin: w.origin,
    rootsDir: w.rootsDir,
    hosts: Object.fromEntries([...w.hosts].map(([n, h]) => [n, { root: h.root, address: h.address, netns: h.netns }])),
    claims,
  };
  await writeFile(file, JSON.stringify(facts, null, 2));
}
