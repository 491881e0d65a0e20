import type { Command } from "commander";

/**
 * Every command, with its one-line summary for `oscd --help` and a loader for its module.
 * Only the command being run is loaded (with the stages it needs): importing every command's
 * module made each start pay for all of them. A test checks each summary against the
 * loaded command's own description.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<(program: Command) => void>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: "keys", summary: "make and inspect Nix-format ed25519 signing keys", load: async () => (await import("./keys.js")).registerKeys },
  {
    name: "build",
    summary: "pin the fleet repository to one commit, evaluate the selected hosts in one Nix evaluation, build them and keep GC roots",
    load: async () => (await import("./build.js")).registerBuild,
  },
  {
    name: "publish",
    summary: "build the selected hosts, sign and upload their closures to the binary caches, and write the channel's next signed manifest",
    load: async () => (await import("./publish.js")).registerPublish,
  },
  {
    name: "image",
    summary: "build a host's machine image (or netboot files) with its system, hash it, and record it, signed, in the channel manifest",
    load: async () => (await import("./image.js")).registerImage,
  },
  {
    name: "netboot",
    summary: "write each host's verified netboot files (kernel, initrd, iPXE script) from a signed manifest as static files for any web server",
    load: async () => (await import("./netboot.js")).registerNetboot,
  },
  { name: "manifest", summary: "check, print and co-sign signed release manifests", load: async () => (await import("./manifest.js")).registerManifest },
  {
    name: "trust",
    summary: "the fleet's signed trust root (root, release and cache keys, thresholds), its rotation and revocation lists",
    load: async () => (await import("./trust.js")).registerTrust,
  },
  {
    name: "activate",
    summary: "move this machine to a system with the activation engine: realise, guard, profile, switch, health checks, commit or roll back",
    load: async () => (await import("./activate.js")).registerActivate,
  },
  {
    name: "upgrade",
    summary: "upgrade this machine in one step: newest release (or a tag, branch, commit, local tree) → read-only source snapshot → build → activate",
    load: async () => (await import("./upgrade.js")).registerUpgrade,
  },
  {
    name: "rollback",
    summary: "switch back to the previous generation (or --to a given one), with health checks",
    load: async () => (await import("./rollback.js")).registerRollback,
  },
  {
    name: "generations",
    summary: "list the system generations with their version, commit, ref and source",
    load: async () => (await import("./generations.js")).registerGenerations,
  },
  {
    name: "gc",
    summary: "free disk space: remove old system generations (with their records, source roots and boot entries) by the retention policy, or a build machine's old GC roots (--roots), then optionally collect garbage",
    load: async () => (await import("./gc.js")).registerGc,
  },
  {
    name: "status",
    summary: "this machine: running and booted system, generation, release, reboot need, last deployment, and the running agent's view",
    load: async () => (await import("./status.js")).registerStatus,
  },
  {
    name: "recover",
    summary: "finish a deployment a crash interrupted (every deploying command does this first)",
    load: async () => (await import("./recover.js")).registerRecover,
  },
  { name: "schema", summary: "print the JSON Schema of the fleet file oscd.toml, for editors", load: async () => (await import("./schema.js")).registerSchema },
  {
    name: "release",
    summary: "semantic-version releases: bump the version file, commit, tag, push",
    load: async () => (await import("./release.js")).registerRelease,
  },
  {
    name: "init",
    summary: "scaffold oscd.toml (hosts found in nixosConfigurations, caches, trusted keys), the version file and CI workflows",
    load: async () => (await import("./init.js")).registerInit,
  },
  {
    name: "agent",
    summary: "the pull agent: follow signed manifests and git branches, and move this machine with the activation engine",
    load: async () => (await import("./agent.js")).registerAgent,
  },
  {
    name: "deploy",
    summary: "push deploy over SSH: build the selected hosts here, copy their closures, activate each through its oscd engine with magic rollback, in parallel",
    load: async () => (await import("./deploy.js")).registerDeploy,
  },
  {
    name: "bundle",
    summary: "build hosts into a directory to carry to machines without network: their closures as a signed binary cache and a signed manifest",
    load: async () => (await import("./bundle.js")).registerBundle,
  },
  {
    name: "deploy-target",
    summary: "the target side of oscd deploy: start an activation detached from the SSH session, follow it, confirm it (magic rollback)",
    load: async () => (await import("./deploy-target.js")).registerDeployTarget,
  },
  {
    name: "server",
    summary: "the control server: fleet state, signed releases, staged rollouts, webhooks, a live dashboard and metrics (SQLite or PostgreSQL)",
    load: async () => (await import("./server.js")).registerServer,
  },
  {
    name: "rollout",
    summary: "staged rollouts on the control server: start one wave by wave, watch it live per host, pause, resume, promote or abort it",
    load: async () => (await import("./rollout.js")).registerRollout,
  },
  {
    name: "option",
    summary: "print the value of a NixOS option in a host's configuration at a ref (like nixos-option), for flakes and classic layouts",
    load: async () => (await import("./option.js")).registerOption,
  },
  {
    name: "diff",
    summary: "what a deployment changes on a host: packages added, removed and changed, closure size, and whether a reboot is needed",
    load: async () => (await import("./diff.js")).registerDiff,
  },
  {
    name: "impact",
    summary: "for every host, whether a change touches it, its package diff and reboot forecast, in one evaluation per ref",
    load: async () => (await import("./impact.js")).registerImpact,
  },
  {
    name: "update",
    summary: "update the fleet's pinned inputs, build every host, run the checks, and commit on a branch; merge or open a pull request only when all passed",
    load: async () => (await import("./update.js")).registerUpdate,
  },
  {
    name: "completion",
    summary: "print a shell completion script for bash, zsh or fish (every command and option, from the commands themselves)",
    load: async () => (await import("./completion.js")).registerCompletion,
  },
];

/** The command a command line runs (`oscd help X` runs X's help), or undefined. */
export function invokedCommand(args: readonly string[]): CommandEntry | undefined {
  const words = args.filter((a) => !a.startsWith("-"));
  const name = words[0] === "help" ? words[1] : words[0];
  return COMMANDS.find((c) => c.name === name);
}
