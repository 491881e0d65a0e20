import { OscdError } from "../core/errors.js";
import { lastLine, nixSshOpts, sshRun, SshError, type SshSettings, type SshTarget } from "./ssh.js";

/**
 * `--build-host HOST`: the closures are built on another machine over SSH (a cross-system
 * host, a Raspberry Pi's aarch64 system built on an aarch64 server), through Nix's own remote
 * builds: the derivations go there, the outputs come back here, and from here to the targets
 * (signed with `--sign-key` like any closure built here). Nothing is built on this machine.
 */
export interface BuildHostPlan {
  builders: string;
  maxJobs: number;
  env: Record<string, string>;
}

/** The build host answers over SSH and has Nix (checked with the targets, before building). */
export async function probeBuildHost(t: SshTarget, s: SshSettings): Promise<void> {
  const r = await sshRun(t, s, "command -v nix-store > /dev/null && echo oscd-probe:nix", { timeoutMs: 60_000 });
  if (r.exitCode === 255) throw new SshError(t.host, r, "unreachable");
  if (!r.stdout.includes("oscd-probe:nix")) {
    throw new OscdError("build-host-no-nix", `${t.host}: ${t.destination} has no nix-store on its PATH${r.stderr ? `: ${lastLine(r.stderr)}` : ""}`, { hint: "--build-host needs a machine with Nix whose SSH user may build (root or one of its trusted-users)" });
  }
}

/**
 * Nix's `--builders` for the build host, for the systems of the selected hosts (its
 * `big-parallel` jobs too, as a NixOS system has some), `--max-jobs 0` so that nothing is
 * built here, and its SSH options (the probe's shared connection) for Nix's ssh.
 */
export function buildHostPlan(t: SshTarget, s: SshSettings, systems: readonly string[], jobs: number): BuildHostPlan {
  const list = [...new Set(systems)].sort();
  if (list.length === 0 || list.some((x) => !/^[A-Za-z0-9_-]+$/.test(x))) {
    throw new OscdError("build-host-systems", `cannot build for ${JSON.stringify(list.join(","))} on ${t.host}`, { hint: "set system in oscd.toml for each host (e.g. aarch64-linux)", exitCode: 2 });
  }
  return {
    builders: `ssh-ng://${t.destination} ${list.join(",")} - ${Math.max(1, jobs)} 1 big-parallel`,
    maxJobs: 0,
    env: { NIX_SSHOPTS: nixSshOpts(t, s, true).join(" ") },
  };
}
