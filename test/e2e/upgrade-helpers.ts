import { mkdir, readFile, writeFile } from "node:fs/promises";
import { FleetRepo, SimHost, oscdOn } from "../harness/index.js";
import type { RunResult } from "../../src/core/exec.js";
import { build } from "../../src/nix/index.js";

/** The fleet file of the upgrade tests: health read from the fake system's marker, no retries. */
export const FLEET_TOML = `[fleet]
name = "e2e"

[health]
systemdUnits = false
commands = [["grep", "-qx", "ok", "/run/fake-nixos/health"]]
retries = 0
timeoutSeconds = 10
`;

/** A fleet with releases v1.0.0 and v1.1.0 and a `testing` branch one commit ahead. */
export async function releasedFleet(): Promise<{ fleet: FleetRepo; v100: string; v110: string; testing: string }> {
  const fleet = await FleetRepo.create({ layout: "flake", hosts: ["web1", "web2", "db1"] });
  await fleet.commitFile("oscd.toml", FLEET_TOML, "Add fleet file");
  const v100 = await fleet.release("1.0.0");
  await fleet.commitHostChange("web2", "tuning", "web2: tuning");
  const v110 = await fleet.release("1.1.0");
  const testing = await fleet.commitHostChange("web1", "experiment", "web1: experiment");
  await fleet.branch("testing");
  await fleet.git(["reset", "-q", "--hard", v110]);
  return { fleet, v100, v110, testing };
}

export async function machineHost(name: string, fleet: FleetRepo, extra = ""): Promise<SimHost> {
  const h = await SimHost.create({ name });
  await mkdir(h.path("/etc/oscd"), { recursive: true });
  await writeFile(h.path("/etc/oscd/machine.toml"), `host = "${name}"\nremote = "${fleet.url}"\n${extra}`);
  return h;
}

export async function upgradeOn(h: SimHost, args: string[], env?: Record<string, string>): Promise<RunResult> {
  return oscdOn(h, ["upgrade", ...args], { env });
}

/** Profile, running system and boot default agree: the host is on one whole generation. */
export async function wholeGeneration(h: SimHost): Promise<{ toplevel: string | undefined; consistent: boolean; journalOpen: boolean; locked: boolean }> {
  const profile = await h.readLink("/nix/var/nix/profiles/system");
  const gen = profile ? await h.readLink(`/nix/var/nix/profiles/${profile}`) : undefined;
  const running = await h.currentSystem();
  const boot = await h.defaultBootToplevel();
  const exists = async (p: string) => readFile(h.path(p)).then(() => true, () => false);
  return { toplevel: running, consistent: gen === running && boot === running, journalOpen: await exists("/var/lib/oscd/journal.json"), locked: await exists("/var/lib/oscd/lock") };
}

/** The toplevel a host of the fleet has at a commit, built on the test machine. */
export async function toplevelAt(fleet: FleetRepo, commit: string, host = "web1"): Promise<string> {
  const [b] = await build(fleet.nixSource(commit), [fleet.attr(host)]);
  if (!b) throw new Error(`harness: no toplevel for ${host} at ${commit}`);
  return b.outPath;
}
