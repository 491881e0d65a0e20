import { chmod, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify as toToml } from "smol-toml";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { AGENT_NODE_OPTIONS, agentConfigSchema } from "../../../src/agent/index.js";
import { run } from "../../../src/core/exec.js";
import { parseMachineConfig } from "../../../src/fleet/index.js";
import { OSCD_BIN, REPO_ROOT, ensureBuilt, tempDir } from "../../harness/index.js";
import { evaluateModule as evaluate, type Evaluated } from "../../harness/nix-module.js";

/**
 * The NixOS module (nix/module.nix) evaluated with a stand-in for the module system
 * (test/harness/nix/module-system.nix), and what it writes fed to oscd itself: the agent's JSON
 * to `oscd agent --check-config` (as the build-time check does), machine.toml to oscd's
 * machine.toml parser. Every option must survive the round trip (comin once shipped a module
 * key its Go side never read, which turned a confirmation timeout into 0 s).
 */
const PACKAGE = "/nix/store/00000000000000000000000000000000-oscd-0.1.0";
const KEY = "fleet-1:4RcFsIaR+s2uv6EXCjLbLgLtjQ8SZNsK6Y8vcTq6KBw=";
const KEY2 = "fleet-2:5U2xWEanFJNHDeA0f4BvqSvVvc3KLMRVa2bJxPPz4Z8=";

/** An agent host: the machine's settings and `agent` in one `services.oscd`. */
function agentHost(agent: Record<string, unknown>, machine: Record<string, unknown> = {}): Record<string, unknown> {
  return { package: PACKAGE, trustedPublicKeys: [KEY], ...machine, agent: { enable: true, ...agent } };
}

let dir: string;
let fakePackage: string;
beforeAll(async () => {
  await ensureBuilt();
  dir = await tempDir("nix-module");
  // The package as the build-time check sees it: bin/oscd, here the oscd of this checkout.
  fakePackage = join(dir, "oscd-package");
  await mkdir(join(fakePackage, "bin"), { recursive: true });
  await writeFile(join(fakePackage, "bin", "oscd"), `#!/bin/sh\nexec node ${OSCD_BIN} "$@"\n`);
  await chmod(join(fakePackage, "bin", "oscd"), 0o755);
});

/** `oscd agent --check-config` on the module's file: the effective configuration (without the derived endpoints). */
async function checkConfig(text: string): Promise<Record<string, unknown>> {
  const r = await checkConfigRun(text);
  expect(r.stderr).toBe("");
  expect(r.exitCode).toBe(0);
  const { endpoints: _e, ...config } = JSON.parse(r.stdout) as Record<string, unknown>;
  return config;
}

async function checkConfigRun(text: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const file = join(dir, `agent-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, text);
  return run("node", [OSCD_BIN, "agent", "--check-config", file], { timeoutMs: 30_000 });
}

/** The module's build-time check as the build runs it (`$config` the generated file), on this checkout's oscd. */
async function buildCheck(e: Evaluated): Promise<{ exitCode: number; stderr: string }> {
  expect(e.checkCommand).toContain(`${PACKAGE}/bin/oscd agent --check-config "$config"`);
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, e.configText ?? "");
  const r = await run("sh", ["-euc", (e.checkCommand ?? "").replaceAll(PACKAGE, fakePackage)], { timeoutMs: 30_000, env: { config: file, out: `${file}.out` } });
  return { exitCode: r.exitCode, stderr: r.stderr };
}

/** Every key path of a zod schema (array elements as `[]`), through optional, default and refinements. */
function schemaPaths(schema: z.ZodTypeAny, prefix = ""): string[] {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) return schemaPaths(schema.unwrap() as z.ZodTypeAny, prefix);
  if (schema instanceof z.ZodDefault) return schemaPaths(schema._def.innerType as z.ZodTypeAny, prefix);
  if (schema instanceof z.ZodEffects) return schemaPaths(schema.innerType() as z.ZodTypeAny, prefix);
  if (schema instanceof z.ZodArray) return schemaPaths(schema.element as z.ZodTypeAny, `${prefix}[]`);
  if (schema instanceof z.ZodObject) {
    return Object.entries(schema.shape as Record<string, z.ZodTypeAny>).flatMap(([k, v]) => {
      const p = prefix === "" ? k : `${prefix}.${k}`;
      return [p, ...schemaPaths(v, p)];
    });
  }
  return [];
}

function valuePaths(v: unknown, prefix = ""): string[] {
  if (Array.isArray(v)) return v.flatMap((x) => valuePaths(x, `${prefix}[]`));
  if (v !== null && typeof v === "object") {
    return Object.entries(v).flatMap(([k, x]) => {
      const p = prefix === "" ? k : `${prefix}.${k}`;
      return [p, ...valuePaths(x, p)];
    });
  }
  return [];
}

const HEALTH = {
  systemdUnits: false,
  commands: [["systemctl", "is-active", "nginx"]],
  http: [{ url: "http://localhost/health", status: 204, contains: "ok" }],
  timeoutSeconds: 5,
  retries: 2,
  retryDelaySeconds: 1,
};

/** Every agent option set, none to its default (the server form; `reports.url` is the other). */
const EVERYTHING = {
  enable: true,
  hostname: "db7",
  machineId: "0123456789abcdef0123456789abcdef",
  stateDir: "/var/lib/oscd-test",
  trustedPublicKeys: [KEY2],
  trustRoot: "/etc/oscd/trust-root.json",
  substituters: ["https://cache.example.org"],
  server: { url: "https://oscd.example.org", fallbackUrls: ["https://oscd-2.example.org"], tokenFile: "/run/secrets/oscd-token", channel: "stable" },
  manifest: {
    urls: ["https://cache.example.org/channels/stable.json", "file:///srv/mirror/stable.json"],
    channel: "stable",
    operation: "boot",
    pollInterval: 90,
    randomizedDelaySec: 7,
    longPollSeconds: 25,
    timeout: 11,
    maxClockSkewSeconds: 120,
    allowNoExpiry: true,
    trustUrls: ["https://cache.example.org/channels/trust/"],
  },
  remotes: [
    {
      name: "upstream",
      url: "https://git.example.org/fleet.git",
      auth: { accessTokenPath: "/run/secrets/token", sshDeployKeyPath: "/run/secrets/deploy-key" },
      timeout: 40,
      poller: { period: 30 },
      branches: { main: { name: "production", operation: "boot" }, testing: { name: "try-{hostname}", operation: "switch" } },
    },
    { name: "local", url: "/srv/fleet" },
  ],
  gpgPublicKeyPaths: ["/etc/oscd/release.asc"],
  allowedSignersPath: "/etc/oscd/allowed_signers",
  requireSignedHistory: true,
  flakeSubdirectory: "fleet",
  evalTimeout: 600,
  buildTimeout: 900,
  switchTimeout: 120,
  switchWindows: [{ lower: "22:00", upper: "04:00", days: ["sat", "sun"] }],
  outsideWindow: "boot",
  reboot: { policy: "when-needed", rebootWindow: { lower: "02:00", upper: "03:00", days: ["sun"] }, randomizedDelaySec: 600 },
  health: HEALTH,
  postDeploymentCommand: ["/run/current-system/sw/bin/logger", "deployed"],
  controlSocket: "/run/oscd-test/agent.sock",
  exporter: { enable: false, listenAddress: "0.0.0.0", port: 9243 },
  reports: { retryInterval: 3 },
  backoff: { initial: 1, max: 60 },
  logLevel: "debug",
  diff: true,
  retention: { keepGenerations: 7, keepDays: 3, collectGarbage: true, maxFreedMiB: 512 },
  selfUpdate: { enable: false, unit: "fleet-agent.service", timeout: 45 },
};

describe("NixOS module", () => {
  it("every Nix file parses", async () => {
    const files = ["flake.nix", ...(await readdir(join(REPO_ROOT, "nix"))).filter((f) => f.endsWith(".nix")).map((f) => join("nix", f)), "test/harness/nix/module-system.nix"];
    expect(files).toEqual(expect.arrayContaining(["flake.nix", "nix/module.nix", "nix/package.nix", "nix/test.nix", "nix/npm-lock-sources.nix"]));
    for (const f of files) {
      const r = await run("nix-instantiate", ["--parse", join(REPO_ROOT, f)], { timeoutMs: 30_000 });
      expect(r.exitCode, `${f}: ${r.stderr}`).toBe(0);
    }
  });

  it("disabled, it adds nothing", async () => {
    const e = await evaluate({ package: PACKAGE, trustedPublicKeys: [KEY] });
    expect(e.unit).toBeNull();
    expect(e.systemPackages).toEqual([]);
    expect(e.etc).toEqual({});
    expect(e.nixSettings).toBeNull();
    expect(e.failedAssertions).toEqual([]);
  });

  it("services.oscd alone (a push-only host): oscd on the PATH, the machine.toml push deploys read, the fleet's keys and caches in nix.settings; no agent", async () => {
    const machine = { enable: true, package: PACKAGE, host: "web2", trustedPublicKeys: [KEY, KEY2], substituters: ["https://cache.example.org"], health: HEALTH, remote: "https://git.example.org/fleet.git", tagPrefix: "release-", retention: { keepGenerations: 5, keepDays: 14, collectGarbage: true, maxFreedMiB: 2048 } };
    const e = await evaluate(machine);
    expect(e.unit).toBeNull();
    expect(e.systemPackages).toEqual([PACKAGE]);
    expect(e.etc).toEqual({ "oscd/machine.toml": { source: e.machineFile } });
    // What oscd reads back is what was set, every key of machine.toml.
    const { enable: _e, package: _p, ...settings } = machine;
    const parsed = parseMachineConfig(toToml(e.machineSettings), "machine.toml");
    expect(parsed).toEqual(settings);
    expect(e.nixSettings).toEqual({ "extra-trusted-public-keys": [KEY, KEY2], "extra-substituters": ["https://cache.example.org"] });
    expect((await evaluate({ ...machine, addToNixSettings: false })).nixSettings).toBeNull();
    // The host defaults to the machine's host name; unset keys are left out for oscd's defaults.
    const plain = await evaluate({ enable: true, package: PACKAGE }, { hostName: "db3" });
    expect(plain.machineSettings).toEqual({ host: "db3", tagPrefix: "v", trustedPublicKeys: [], substituters: [] });
    expect(parseMachineConfig(toToml(plain.machineSettings))).toMatchObject({ host: "db3" });
  });

  it("the agent: a unit always restarted (with a start limit and backoff), not restarted by a switch, its directories 0700, git and gnupg on its path, hardened; the machine-level parts come with it", async () => {
    const e = await evaluate(agentHost({ manifest: { urls: ["file:///srv/channel/main.json"] } }), { hostName: "web3" });
    const unit = e.unit;
    expect(unit?.serviceConfig.ExecStart).toBe(`${PACKAGE}/bin/oscd agent --config ${e.configFile}`);
    // The Node options the agent is measured with (bench/agent.ts) are the ones the unit sets.
    expect(unit?.serviceConfig.Environment).toEqual([`NODE_OPTIONS=${AGENT_NODE_OPTIONS}`, "NIX_REMOTE=daemon"]);
    expect(unit?.serviceConfig).toMatchObject({ Restart: "always", RestartSec: 5, RestartSteps: 10, RestartMaxDelaySec: 300 });
    expect([unit?.startLimitBurst, unit?.startLimitIntervalSec]).toEqual([10, 300]);
    expect(unit?.serviceConfig).toMatchObject({ StateDirectory: "oscd", StateDirectoryMode: "0700", RuntimeDirectory: "oscd", RuntimeDirectoryMode: "0700" });
    expect(unit?.path.map((p) => p.replace(/^\/nix\/store\/[a-z0-9]{32}-/, ""))).toEqual(expect.arrayContaining(["nix", "git", "gnupg", "openssh", "systemd", "util-linux"]));
    expect(unit?.serviceConfig).toMatchObject({
      ProtectKernelTunables: true,
      ProtectKernelModules: true,
      ProtectControlGroups: true,
      RestrictSUIDSGID: true,
      RestrictAddressFamilies: ["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"],
      SystemCallFilter: ["@system-service"],
      SystemCallErrorNumber: "EPERM",
    });
    expect(unit?.serviceConfig.LoadCredential).toEqual([]);
    expect(unit?.wantedBy).toEqual(["multi-user.target"]);
    expect(unit?.restartIfChanged).toBe(false);
    expect(unit?.stopIfChanged).toBe(false);
    expect(e.systemPackages).toEqual([PACKAGE]);
    expect(Object.keys(e.etc)).toEqual(["oscd/machine.toml"]);
    expect(e.tmpfiles).toEqual([]);
    const written = JSON.parse(e.configText ?? "") as Record<string, unknown>;
    // The machine's name and keys are the agent's.
    expect(written).toMatchObject({ hostname: "web3", trustedPublicKeys: [KEY] });
    // The module's defaults are the agent's: the agent reads back exactly what was written.
    expect(await checkConfig(e.configText ?? "")).toEqual(written);
    // Without nix-daemon (nix.enable = false) the agent uses the store itself.
    expect((await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] } }), { nixEnable: false })).unit?.serviceConfig.Environment).toEqual([`NODE_OPTIONS=${AGENT_NODE_OPTIONS}`]);
  });

  it("state and runtime directories follow stateDir and controlSocket: systemd's own under /var/lib and /run, tmpfiles (0700) elsewhere", async () => {
    const own = await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] }, stateDir: "/var/lib/fleet/oscd", controlSocket: "/run/fleet-agent/agent.sock" }));
    expect(own.unit?.serviceConfig).toMatchObject({ StateDirectory: "fleet/oscd", RuntimeDirectory: "fleet-agent" });
    expect(own.tmpfiles).toEqual([]);
    const elsewhere = await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] }, stateDir: "/srv/oscd", controlSocket: "/var/run-oscd/agent.sock" }));
    expect(elsewhere.unit?.serviceConfig.StateDirectory).toBeUndefined();
    expect(elsewhere.unit?.serviceConfig.RuntimeDirectory).toBeUndefined();
    expect(elsewhere.tmpfiles).toEqual(["d /srv/oscd 0700 root root -", "d /var/run-oscd 0700 root root -"]);
  });

  it("every option reaches the agent: set to non-defaults, the agent's effective configuration is the module's; reports without a server too", async () => {
    const e = await evaluate({ package: PACKAGE, agent: { ...EVERYTHING, exporter: { ...EVERYTHING.exporter, openFirewall: true } } });
    expect(e.failedAssertions).toEqual([]);
    const written = JSON.parse(e.configText ?? "") as Record<string, unknown>;
    const effective = await checkConfig(e.configText ?? "");
    expect(effective).toEqual(written);
    const { enable: _e, server, ...settings } = EVERYTHING;
    expect(effective).toMatchObject(settings);
    // The token file reaches the agent as the credential systemd hands it; the unit loads it from where it is.
    expect(effective.server).toEqual({ url: server.url, fallbackUrls: server.fallbackUrls, channel: server.channel, tokenFile: "/run/credentials/oscd-agent.service/server-token" });
    expect(e.unit?.serviceConfig.LoadCredential).toEqual(["server-token:/run/secrets/oscd-token"]);
    // The firewall is the module's (not the agent's); with the exporter off, no port opens.
    expect(e.firewallPorts).toEqual([]);

    const { server: _s, ...withoutServer } = EVERYTHING;
    const own = await evaluate({ package: PACKAGE, agent: { ...withoutServer, reports: { url: "https://reports.example.org", tokenFile: "/var/lib/oscd-test/host-token", retryInterval: 3 } } });
    const ownWritten = JSON.parse(own.configText ?? "") as Record<string, unknown>;
    expect(await checkConfig(own.configText ?? "")).toEqual(ownWritten);
    expect(ownWritten.reports).toEqual({ url: "https://reports.example.org", tokenFile: "/run/credentials/oscd-agent.service/reports-token", retryInterval: 3 });
    expect(own.unit?.serviceConfig.LoadCredential).toEqual(["reports-token:/var/lib/oscd-test/host-token"]);

    // And every setting the agent knows is one the module writes.
    const writtenPaths = [...valuePaths(written), ...valuePaths(ownWritten)];
    expect(schemaPaths(agentConfigSchema).filter((p) => !writtenPaths.includes(p))).toEqual([]);
  });

  it("the token never enters the evaluated configuration, the store or --check-config's output: the agent shows <from tokenFile>", async () => {
    const tokenFile = join(dir, "host-token");
    const token = "oscd_0123456789abcdef_TOKENSECRETtokensecretTOKENSECRET";
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const e = await evaluate(agentHost({ server: { url: "https://oscd.example.org", tokenFile } }));
    expect(JSON.stringify(e)).not.toContain("TOKENSECRET");
    // The file the store would hold names where systemd puts the credential, not even the secret's path.
    expect(e.configText).not.toContain(tokenFile);
    const r = await checkConfigRun(e.configText ?? "");
    expect(r.exitCode, r.stderr).toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toContain("TOKENSECRET");
    expect((JSON.parse(r.stdout) as { endpoints: unknown }).endpoints).toEqual({
      manifest: [{ url: "https://oscd.example.org/api/v1/channels/main/manifest", authorization: "Bearer <from tokenFile>" }],
      reports: { url: "https://oscd.example.org/api/v1/reports", authorization: "Bearer <from tokenFile>" },
    });

    // The old form, the token in the manifest URL, is refused before anything reaches the store.
    const inUrl = await evaluate(agentHost({ manifest: { urls: [`https://web1:${token}@oscd.example.org/api/v1/channels/main/manifest`] } }));
    expect(inUrl.failedAssertions).toEqual([expect.stringContaining("has credentials in it, which would be readable by every user in the Nix store")]);
    expect(inUrl.failedAssertions.join("")).not.toContain("TOKENSECRET");
    // A token file that is itself in the store is refused: every user can read the store.
    const inStore = await evaluate(agentHost({ server: { url: "https://oscd.example.org", tokenFile: "/nix/store/00000000000000000000000000000000-token" } }));
    expect(inStore.failedAssertions).toEqual([expect.stringContaining("must be an absolute path outside the Nix store")]);
    // And the agent refuses a URL with credentials even when the module is bypassed (extraSettings).
    const bypass = await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] }, extraSettings: { manifest: { urls: [`https://web1:${token}@oscd.example.org/m.json`] } } }));
    const check = await buildCheck(bypass);
    expect(check.exitCode).toBe(2);
    expect(check.stderr).toContain("error[url-credentials]");
    expect(check.stderr).not.toContain("TOKENSECRET");
  });

  it.each([
    ["no source", { manifest: { urls: [] } }, "services.oscd.agent has no source"],
    ["manifest URLs without trusted keys", { manifest: { urls: ["https://x/main.json"] }, trustedPublicKeys: [] }, "trusts no key to check their signatures"],
    ["a server without trusted keys", { server: { url: "https://oscd.example.org", tokenFile: "/run/t" }, trustedPublicKeys: [] }, "trusts no key to check their signatures"],
    ["an empty hostname", { manifest: { urls: ["file:///x.json"] }, hostname: "" }, "services.oscd.agent.hostname is empty"],
    ["a host name oscd refuses", { manifest: { urls: ["file:///x.json"] }, hostname: "web 1" }, "is not a host name oscd accepts"],
    ["a channel that differs from the server's", { server: { url: "https://oscd.example.org", tokenFile: "/run/t", channel: "beta" }, manifest: { channel: "main" } }, "differs from services.oscd.agent.server.channel (beta)"],
    ["reports.url beside a server", { server: { url: "https://oscd.example.org", tokenFile: "/run/t" }, reports: { url: "https://other.example.org" } }, "reports go to server.url"],
    ["a relative token file", { server: { url: "https://oscd.example.org", tokenFile: "secrets/token" } }, "must be an absolute path outside the Nix store"],
  ])("an assertion fails for %s", async (_what, agent, message) => {
    const e = await evaluate(agentHost(agent));
    expect(e.failedAssertions).toEqual([expect.stringContaining(message)]);
  });

  it("an empty host name fails the machine-level assertion too", async () => {
    const e = await evaluate({ enable: true, package: PACKAGE }, { hostName: "" });
    expect(e.failedAssertions).toEqual([expect.stringContaining("services.oscd.host is empty")]);
  });

  it("a setting for an option that does not exist, or not of the option's type, fails evaluation: windows, keys, health, enums", async () => {
    const base = { manifest: { urls: ["file:///x"] } };
    await expect(evaluate(agentHost({ manifest: { urls: ["file:///x"], pollIntervall: 5 } }))).rejects.toThrow(/services\.oscd\.agent\.manifest\.pollIntervall' does not exist/);
    await expect(evaluate(agentHost({ ...base, reboot: { policy: "always" } }))).rejects.toThrow(/reboot\.policy' is not of type `one of "never", "when-needed"'/);
    await expect(evaluate(agentHost({ ...base, switchWindows: [{ lower: "25:00", upper: "04:00" }] }))).rejects.toThrow(/switchWindows\.\[entry 1\]\.lower' is not of type `string matching the pattern/);
    await expect(evaluate(agentHost({ ...base, reboot: { rebootWindow: { lower: "2:00" } } }))).rejects.toThrow(/rebootWindow\.lower' is not of type/);
    await expect(evaluate(agentHost(base, { trustedPublicKeys: ["k:abc"] }))).rejects.toThrow(/services\.oscd\.trustedPublicKeys\.\[entry 1\]' is not of type `string matching the pattern/);
    await expect(evaluate(agentHost({ ...base, trustedPublicKeys: [`${KEY}=`] }))).rejects.toThrow(/agent\.trustedPublicKeys\.\[entry 1\]' is not of type/);
    await expect(evaluate(agentHost({ ...base, health: { retries: "many" } }))).rejects.toThrow(/health\.retries' is not of type `null or unsigned integer/);
    await expect(evaluate(agentHost({ ...base, health: { http: [{ url: "localhost/health" }] } }))).rejects.toThrow(/health\.http\.\[entry 1\]\.url' is not of type/);
    await expect(evaluate(agentHost({ ...base, health: { retry: 1 } }))).rejects.toThrow(/health\.retry' does not exist/);
    await expect(evaluate(agentHost({ ...base, manifest: { urls: ["file:///x"], randomizedDelaySec: "5 fortnights" } }))).rejects.toThrow(/randomizedDelaySec' is not of type `unsigned integer, meaning >=0 or string matching/);
  });

  it("randomizedDelaySec takes seconds or a systemd time span, as system.autoUpgrade does; the agent gets seconds", async () => {
    for (const [span, seconds] of [[7, 7], ["45min", 2700], ["1h 30min", 5400], ["2 h", 7200], ["90", 90], ["1d", 86400], ["1w 1s", 604801]] as const) {
      const e = await evaluate(agentHost({ manifest: { urls: ["file:///x.json"], randomizedDelaySec: span }, reboot: { randomizedDelaySec: span } }));
      const c = JSON.parse(e.configText ?? "") as { manifest: { randomizedDelaySec: number }; reboot: { randomizedDelaySec: number } };
      expect([c.manifest.randomizedDelaySec, c.reboot.randomizedDelaySec], String(span)).toEqual([seconds, seconds]);
    }
  });

  it("extraSettings are merged recursively: a nested key keeps its siblings; the result is checked like the rest", async () => {
    const e = await evaluate(agentHost({ manifest: { urls: ["file:///x.json"], pollInterval: 9 }, extraSettings: { manifest: { timeout: 61 }, exporter: { port: 9999 } } }));
    const c = await checkConfig(e.configText ?? "");
    expect(c.manifest).toMatchObject({ urls: ["file:///x.json"], pollInterval: 9, timeout: 61 });
    expect(c.exporter).toEqual({ enable: true, listenAddress: "127.0.0.1", port: 9999 });
  });

  it("the configuration is checked when the system is built: a key the agent does not read, or a bad key or window that bypasses the types, fails the build", async () => {
    const good = await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] } }));
    expect(await buildCheck(good)).toMatchObject({ exitCode: 0 });
    for (const [extra, error] of [
      [{ confirmTimeout: 30 }, /unknown key\(s\) confirmTimeout/],
      [{ trustedPublicKeys: ["k:abc"] }, /trustedPublicKeys\.0/],
      [{ switchWindows: [{ lower: "25:00", upper: "04:00" }] }, /switchWindows\.0\.lower: a time of day HH:MM/],
    ] as const) {
      const e = await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] }, extraSettings: extra }));
      const r = await buildCheck(e);
      expect(r.exitCode, JSON.stringify(extra)).toBe(2);
      expect(r.stderr).toMatch(error);
    }
    // Where the build machine cannot run the package, or when turned off, the file is used as written.
    for (const e of [await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] } }), { canExecute: false }), await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] }, checkConfig: false }))]) {
      expect(e.checkCommand).toBeNull();
      expect(e.unit?.serviceConfig.ExecStart).toBe(`${PACKAGE}/bin/oscd agent --config ${e.configFile}`);
      expect(JSON.parse(e.configText ?? "")).toMatchObject({ manifest: { urls: ["file:///x.json"] } });
    }
  });

  it("exporter.openFirewall opens the exporter's port, and warns when the exporter only listens on localhost", async () => {
    const e = await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] }, exporter: { openFirewall: true, port: 9100 } }));
    expect(e.firewallPorts).toEqual([9100]);
    expect(e.warnings).toEqual([expect.stringContaining("listens on 127.0.0.1 only")]);
    const open = await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] }, exporter: { openFirewall: true, listenAddress: "0.0.0.0" } }));
    expect([open.firewallPorts, open.warnings]).toEqual([[4243], []]);
    expect((await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] } }))).firewallPorts).toEqual([]);
  });

  it("retention: the machine's is the agent's unless the agent says otherwise; nonsense fails evaluation", async () => {
    const machineRetention = { keepGenerations: 10, keepDays: 30 };
    const inherited = await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] } }, { retention: machineRetention }));
    expect((JSON.parse(inherited.configText ?? "") as { retention?: unknown }).retention).toEqual({ ...machineRetention, collectGarbage: false });
    expect(parseMachineConfig(toToml(inherited.machineSettings)).retention).toEqual({ ...machineRetention, collectGarbage: false });
    const own = await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] }, retention: { keepGenerations: 3 } }, { retention: machineRetention }));
    expect((JSON.parse(own.configText ?? "") as { retention?: unknown }).retention).toEqual({ keepGenerations: 3, collectGarbage: false });
    const none = await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] } }));
    expect((JSON.parse(none.configText ?? "") as { retention?: unknown; selfUpdate?: unknown }).retention).toBeUndefined();
    expect((JSON.parse(none.configText ?? "") as { selfUpdate?: unknown }).selfUpdate).toEqual({ enable: true, unit: "oscd-agent.service", timeout: 120 });
    await expect(evaluate(agentHost({ manifest: { urls: ["file:///x.json"] } }, { retention: { keepGenerations: 0 } }))).rejects.toThrow(/retention\.keepGenerations' is not of type/);
    await expect(evaluate(agentHost({ manifest: { urls: ["file:///x.json"] }, selfUpdate: { unit: "agent; reboot" } }))).rejects.toThrow(/selfUpdate\.unit' is not of type/);
  });

  it("every option has a description; an option whose default is computed has defaultText; the package's default is documented", async () => {
    const a = await evaluate(agentHost({ manifest: { urls: ["file:///x.json"] } }), { hostName: "a1" });
    const b = await evaluate(agentHost({ server: { url: "https://oscd.example.org", tokenFile: "/run/t", channel: "beta" } }, { host: "b2", trustedPublicKeys: [KEY2], substituters: ["https://c.example.org"], health: { retries: 1 }, package: `${PACKAGE}-2` }), { hostName: "b1" });
    expect(a.options.length).toBeGreaterThan(60);
    expect(a.options.filter((o) => !o.description || o.description.length < 10).map((o) => o.path)).toEqual([]);
    const byPath = new Map(b.options.map((o) => [o.path, o]));
    const computed = a.options.filter((o) => o.default.success && JSON.stringify(o.default) !== JSON.stringify(byPath.get(o.path)?.default)).map((o) => o.path);
    expect(computed).toEqual(expect.arrayContaining(["services.oscd.host", "services.oscd.agent.hostname", "services.oscd.agent.trustedPublicKeys", "services.oscd.agent.substituters", "services.oscd.agent.health", "services.oscd.agent.manifest.channel", "services.oscd.agent.package"]));
    expect(computed.filter((p) => !a.options.find((o) => o.path === p)?.hasDefaultText)).toEqual([]);
    const pkg = a.options.find((o) => o.path === "services.oscd.package");
    expect(pkg).toMatchObject({ hasDefaultText: true });
    expect(pkg?.description).toContain("nixosModules.default");
    for (const p of ["services.oscd.agent.server", "services.oscd.trustedPublicKeys", "services.oscd.agent.switchWindows", "services.oscd.agent.manifest.randomizedDelaySec", "services.oscd.agent.extraSettings"]) {
      expect(a.options.find((o) => o.path === p)?.hasExample, p).toBe(true);
    }
  });

  it("the flake's module defaults the package to the flake's own", async () => {
    const flake = await readFile(join(REPO_ROOT, "flake.nix"), "utf8");
    expect(flake).toMatch(/services\.oscd\.package = lib\.mkDefault self\.packages\.\$\{pkgs\.stdenv\.hostPlatform\.system\}\.default;/);
  });
});
