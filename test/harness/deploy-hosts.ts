import { mkdir, writeFile } from "node:fs/promises";
import { run, type RunResult } from "../../src/core/exec.js";
import { build } from "../../src/nix/index.js";
import { FleetRepo, type FleetHostSpec } from "./fleet-repo.js";
import { ensureBuilt, OSCD_BIN } from "./oscd.js";
import { SimHost } from "./simhost.js";
import { clientKey } from "./sshd.js";

/** Health read from the fake system's marker, no retries (as the upgrade tests). */
export const DEPLOY_MACHINE_TOML = `[health]
systemdUnits = false
commands = [["grep", "-qx", "ok", "/run/fake-nixos/health"]]
retries = 0
timeoutSeconds = 10
`;

/** The oscd command a SimHost runs over SSH: this checkout's built CLI. */
/** sshd gives remote commands its own PATH, which may not hold the Node that runs the tests. */
export const REMOTE_OSCD = `${process.execPath} ${OSCD_BIN}`;

export interface DeployFleet {
  fleet: FleetRepo;
  hosts: SimHost[];
  byName: Map<string, SimHost>;
  destroy(): Promise<void>;
}

/**
 * SimHosts with sshd and oscd's machine.toml, a fleet repository naming them with their SSH
 * targets, and each host installed with the fleet's first release (so rollbacks have a
 * previous generation).
 */
export async function deployFleet(
  specs: (string | FleetHostSpec)[],
  opts: { machineToml?: string; install?: boolean; user?: (name: string) => string; trustedPublicKeys?: string[]; setUp?: (h: SimHost) => Promise<void> } = {},
): Promise<DeployFleet> {
  const names = specs.map((s) => (typeof s === "string" ? s : s.name));
  const hosts: SimHost[] = [];
  let fleet: FleetRepo | undefined;
  const destroy = async () => {
    for (const h of hosts) await h.destroy();
    await fleet?.destroy();
  };
  try {
    for (const n of names) {
      const h = await SimHost.create({ name: n, sshd: true, trustedPublicKeys: opts.trustedPublicKeys });
      hosts.push(h);
      await mkdir(h.path("/etc/oscd"), { recursive: true });
      await writeFile(h.path("/etc/oscd/machine.toml"), opts.machineToml ?? DEPLOY_MACHINE_TOML);
    }
    fleet = await FleetRepo.create({ layout: "flake", hosts: specs });
    const toml = ['[fleet]\nname = "deploy-e2e"\n', ...hosts.map((h) => `[hosts.${h.name}]\nssh = "${opts.user?.(h.name) ?? "root"}@${h.address}"\n`)].join("\n");
    await fleet.commitFile("oscd.toml", toml, "Add fleet file");
    await fleet.release("1.0.0");
    if (opts.install !== false) {
      const built = await build(fleet.nixSource(await fleet.head()), names.map((n) => fleet!.attr(n)));
      for (const [i, h] of hosts.entries()) await h.install((built[i] as { outPath: string }).outPath);
    }
    // After the install's reboot, which ends every process of a host.
    for (const h of hosts) await opts.setUp?.(h);
    return { fleet, hosts, byName: new Map(hosts.map((h) => [h.name, h])), destroy };
  } catch (e) {
    await destroy();
    throw e;
  }
}

/** The SSH options oscd deploy needs to reach SimHosts with the test key. */
export async function deploySshArgs(knownHosts?: string): Promise<string[]> {
  const key = await clientKey();
  return ["--ssh-option", `IdentityFile=${key.privateKey}`, "--ssh-option", `UserKnownHostsFile=${knownHosts ?? key.knownHosts}`, "--remote-oscd", REMOTE_OSCD];
}

/** Runs `oscd deploy` on the test machine (the deployer) against a fleet repository. */
export async function oscdDeploy(fleet: FleetRepo, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; stateDir: string; knownHosts?: string; unsigned?: boolean }): Promise<RunResult> {
  await ensureBuilt();
  // Root logins take unsigned paths; the tests say so explicitly unless they test the refusal.
  const sigs = opts.unsigned === false ? [] : ["--no-check-sigs"];
  return run("node", [OSCD_BIN, "deploy", "--repo", fleet.dir, "--state-dir", opts.stateDir, ...sigs, ...(await deploySshArgs(opts.knownHosts)), ...args], { timeoutMs: opts.timeoutMs ?? 600_000, env: opts.env });
}
