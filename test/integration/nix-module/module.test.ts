import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { AGENT_NODE_OPTIONS, agentConfigSchema } from "../../../src/agent/index.js";
import { run } from "../../../src/core/exec.js";
import { OSCD_BIN, REPO_ROOT, ensureBuilt, tempDir } from "../../harness/index.js";

/**
 * The NixOS module (nix/module.nix) evaluated with a stand-in for the module system
 * (test/harness/nix/module-system.nix), and the file it writes fed to the agent itself:
 * every option must survive the round trip (comin once shipped a module key its Go side never
 * read, which turned a confirmation timeout into 0 s).
 */
const STAND_IN = join(REPO_ROOT, "test", "harness", "nix", "module-system.nix");
const MODULE = join(REPO_ROOT, "nix", "module.nix");
const PACKAGE = "/nix/store/00000000000000000000000000000000-oscd-0.1.0";

interface Evaluated {
  unit: null | { serviceConfig: Record<string, unknown>; wantedBy: string[]; restartIfChanged: boolean; stopIfChanged: boolean; after: string[] };
  systemPackages: string[];
  configFile: string | null;
  configText: string | null;
}

async function evaluate(settings: Record<string, unknown>, hostName = "web1"): Promise<Evaluated> {
  const expr = `{ settingsJson, hostName }: import ${STAND_IN} { module = ${MODULE}; settings = builtins.fromJSON settingsJson; inherit hostName; }`;
  const r = await run("nix-instantiate", ["--eval", "--strict", "--json", "-E", expr, "--argstr", "settingsJson", JSON.stringify(settings), "--argstr", "hostName", hostName], { timeoutMs: 60_000 });
  if (r.exitCode !== 0) throw new Error(r.stderr.split("\n").find((l) => l.includes("error:")) ?? r.stderr);
  return JSON.parse(r.stdout) as Evaluated;
}

let dir: string;
beforeAll(async () => {
  await ensureBuilt();
  dir = await tempDir("nix-module");
});

/** `oscd agent --check-config` on the module's file: the effective configuration. */
async function checkConfig(text: string): Promise<Record<string, unknown>> {
  const file = join(dir, `agent-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, text);
  const r = await run("node", [OSCD_BIN, "agent", "--check-config", file], { timeoutMs: 30_000 });
  expect(r.stderr).toBe("");
  expect(r.exitCode).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
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

/** Every option set, none to its default. */
const EVERYTHING = {
  enable: true,
  package: PACKAGE,
  hostname: "db7",
  machineId: "0123456789abcdef0123456789abcdef",
  stateDir: "/var/lib/oscd-test",
  trustedPublicKeys: ["fleet-1:4RcFsIaR+s2uv6EXCjLbLgLtjQ8SZNsK6Y8vcTq6KBw="],
  substituters: ["https://cache.example.org"],
  manifest: {
    urls: ["https://cache.example.org/channels/main.json", "file:///srv/mirror/main.json"],
    channel: "stable",
    operation: "boot",
    pollInterval: 90,
    randomizedDelaySec: 7,
    longPollSeconds: 25,
    timeout: 11,
    maxClockSkewSeconds: 120,
    allowNoExpiry: true,
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
  health: {
    systemdUnits: false,
    commands: [["systemctl", "is-active", "nginx"]],
    http: [{ url: "http://localhost/health", status: 204, contains: "ok" }],
    timeoutSeconds: 5,
    retries: 2,
    retryDelaySeconds: 1,
  },
  postDeploymentCommand: ["/run/current-system/sw/bin/logger", "deployed"],
  controlSocket: "/run/oscd-test/agent.sock",
  exporter: { enable: false, listenAddress: "0.0.0.0", port: 9243 },
  reports: { url: "https://oscd.example.org", tokenFile: "/run/secrets/oscd-token", retryInterval: 3 },
  backoff: { initial: 1, max: 60 },
  logLevel: "debug",
  diff: true,
};

describe("NixOS module", () => {
  it("every Nix file parses", async () => {
    const files = ["flake.nix", ...(await readdir(join(REPO_ROOT, "nix"))).filter((f) => f.endsWith(".nix")).map((f) => join("nix", f)), "test/harness/nix/module-system.nix"];
    expect(files).toEqual(expect.arrayContaining(["flake.nix", "nix/module.nix", "nix/package.nix", "nix/test.nix"]));
    for (const f of files) {
      const r = await run("nix-instantiate", ["--parse", join(REPO_ROOT, f)], { timeoutMs: 30_000 });
      expect(r.exitCode, `${f}: ${r.stderr}`).toBe(0);
    }
  });

  it("disabled, it adds nothing", async () => {
    const e = await evaluate({ package: PACKAGE });
    expect(e.unit).toBeNull();
    expect(e.systemPackages).toEqual([]);
  });

  it("enabled, it writes a unit that runs the agent on the file it writes, restarted on failure, not restarted by a switch", async () => {
    const e = await evaluate({ enable: true, package: PACKAGE, manifest: { urls: ["file:///srv/channel/main.json"] }, trustedPublicKeys: EVERYTHING.trustedPublicKeys }, "web3");
    expect(e.unit?.serviceConfig.ExecStart).toBe(`${PACKAGE}/bin/oscd agent --config ${e.configFile}`);
    // The Node options the agent is measured with (bench/agent.ts) are the ones the unit sets.
    expect(e.unit?.serviceConfig.Environment).toBe(`NODE_OPTIONS=${AGENT_NODE_OPTIONS}`);
    expect(e.unit?.serviceConfig).toMatchObject({ Restart: "on-failure", StateDirectory: "oscd", StateDirectoryMode: "0700", RuntimeDirectory: "oscd" });
    expect(e.unit?.wantedBy).toEqual(["multi-user.target"]);
    expect(e.unit?.restartIfChanged).toBe(false);
    expect(e.unit?.stopIfChanged).toBe(false);
    expect(e.systemPackages).toEqual([PACKAGE]);
    const written = JSON.parse(e.configText ?? "") as Record<string, unknown>;
    expect(written.hostname).toBe("web3");
    // The module's defaults are the agent's: the agent reads back exactly what was written.
    expect(await checkConfig(e.configText ?? "")).toEqual(written);
  });

  it("every option reaches the agent: set to non-defaults, the agent's effective configuration is the module's", async () => {
    const e = await evaluate(EVERYTHING);
    const written = JSON.parse(e.configText ?? "") as Record<string, unknown>;
    const effective = await checkConfig(e.configText ?? "");
    expect(effective).toEqual(written);
    const { enable: _e, package: _p, ...settings } = EVERYTHING;
    expect(effective).toMatchObject(settings);
    // And every setting the agent knows is one the module writes.
    const missing = schemaPaths(agentConfigSchema).filter((p) => !valuePaths(written).includes(p));
    expect(missing).toEqual([]);
  });

  it("a setting for an option that does not exist, or outside its enum, fails evaluation", async () => {
    await expect(evaluate({ enable: true, package: PACKAGE, manifest: { urls: ["file:///x"], pollIntervall: 5 } })).rejects.toThrow(/services\.oscd\.agent\.manifest\.pollIntervall' does not exist/);
    await expect(evaluate({ enable: true, package: PACKAGE, reboot: { policy: "always" } })).rejects.toThrow(/reboot\.policy' has a value outside its enum/);
  });

  it("the stand-in's round trip can fail: a key the agent does not read is refused", async () => {
    const e = await evaluate({ enable: true, package: PACKAGE, manifest: { urls: ["file:///x"] }, trustedPublicKeys: EVERYTHING.trustedPublicKeys, extraSettings: { confirmTimeout: 30 } });
    const file = join(dir, "extra.json");
    await writeFile(file, e.configText ?? "");
    const r = await run("node", [OSCD_BIN, "agent", "--check-config", file], { timeoutMs: 30_000 });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown key\(s\) confirmTimeout/);
  });
});
