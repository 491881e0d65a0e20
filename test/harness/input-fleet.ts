import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FleetRepo, GIT_ENV, type FleetLayout } from "./fleet-repo.js";
import { must } from "./sh.js";

/**
 * What the fixture's package-set repository (`pkgs`) provides: an nginx version, hosts whose
 * build it breaks, and whether the fleet's flake check passes. A commit there is an "input
 * update" for the fleet.
 */
export interface PkgsState {
  nginxVersion: string;
  broken?: string[];
  checkOk?: boolean;
}

/** One host's fake NixOS configuration: a few option values a test can query. */
export interface ConfigHost {
  name: string;
  nginx?: boolean;
  kernelVersion?: string;
}

async function gitIn(dir: string, args: string[]): Promise<string> {
  return (await must("git", ["-C", dir, ...args], { env: GIT_ENV })).stdout.trim();
}

/** The second repository hosts take an input from: a flake (for flake fleets) and a default.nix (for classic ones). */
export class PkgsRepo {
  private constructor(readonly dir: string) {}

  static async create(state: PkgsState): Promise<PkgsRepo> {
    const dir = await mkdtemp(join(tmpdir(), "oscd-fleet-pkgs-"));
    const r = new PkgsRepo(dir);
    await gitIn(dir, ["init", "-q", "-b", "main"]);
    await writeFile(join(dir, "flake.nix"), "{ outputs = { self }: import ./pkgs.nix; }\n");
    await writeFile(join(dir, "default.nix"), "import ./pkgs.nix\n");
    await r.commit(state, "pkgs: initial");
    return r;
  }

  get url(): string {
    return `file://${this.dir}`;
  }

  /** Commits a new state of the package set; returns its commit. */
  async commit(state: PkgsState, message = `pkgs: nginx ${state.nginxVersion}`): Promise<string> {
    const broken = (state.broken ?? []).map((b) => JSON.stringify(b)).join(" ");
    await writeFile(join(this.dir, "pkgs.nix"), `{ nginxVersion = ${JSON.stringify(state.nginxVersion)}; broken = [ ${broken} ]; checkOk = ${state.checkOk === false ? "false" : "true"}; }\n`);
    await gitIn(this.dir, ["add", "-A"]);
    await gitIn(this.dir, ["commit", "-q", "-m", message]);
    return gitIn(this.dir, ["rev-parse", "HEAD"]);
  }

  async head(): Promise<string> {
    return gitIn(this.dir, ["rev-parse", "HEAD"]);
  }

  async destroy(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

// A host's configuration becomes its fake toplevel: nginx (from the pkgs input) enters the
// closure through the marker's string context, the kernel version through the fake kernel.
const CONFIGURATION_NIX = `{ pkgs, version, name }:
let
  cfg = import (./../hosts + "/\${name}.nix");
  nginx = builtins.derivation {
    name = "nginx-\${pkgs.nginxVersion}";
    system = "x86_64-linux";
    builder = "/bin/sh";
    args = [ "-c" "echo nginx \${pkgs.nginxVersion} > $out" ];
  };
in {
  config = cfg // {
    system.build.toplevel = import ./fake-toplevel.nix {
      hostname = cfg.networking.hostName;
      inherit version;
      kernelVersion = cfg.boot.kernelVersion;
      failBuild = builtins.elem name pkgs.broken;
      marker = if cfg.services.nginx.enable then "nginx=\${nginx}" else "";
    };
  };
}
`;

const SMOKE_CHECK = `builtins.derivation {
        name = "smoke-check";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" (if pkgs.checkOk then "echo ok > $out" else "echo smoke check failed >&2; exit 1") ];
      }`;

function configHostFile(h: ConfigHost): string {
  return `{
  networking.hostName = ${JSON.stringify(h.name)};
  services.nginx.enable = ${h.nginx ? "true" : "false"};
  services.nginx.package = "nginx";
  services.openssh.enable = true;
  boot.kernelVersion = ${JSON.stringify(h.kernelVersion ?? "6.1.0")};
}
`;
}

const VERSION_EXPR = 'builtins.replaceStrings [ "\\n" ] [ "" ] (builtins.readFile ./VERSION)';

function inputFlake(pkgs: PkgsRepo, hosts: string[]): string {
  const entries = hosts.map((h) => `        ${h} = mk ${JSON.stringify(h)};`).join("\n");
  return `{
  inputs.pkgs.url = "git+${pkgs.url}";
  outputs = { self, pkgs }:
    let mk = name: import ./lib/configuration.nix { inherit pkgs name; version = ${VERSION_EXPR}; };
    in {
      nixosConfigurations = {
${entries}
      };
      checks.x86_64-linux.smoke = ${SMOKE_CHECK};
    };
}
`;
}

function inputClassic(hosts: string[]): string {
  const entries = hosts.map((h) => `    ${h} = mk ${JSON.stringify(h)};`).join("\n");
  return `{ oscdPins ? "{}" }:
let
  pins = builtins.fromJSON (builtins.readFile ./pins.json) // builtins.fromJSON oscdPins;
  pkgs = import (builtins.fetchGit { inherit (pins.pkgs) url rev; });
  mk = name: import ./lib/configuration.nix { inherit pkgs name; version = ${VERSION_EXPR}; };
in {
  hosts = {
${entries}
  };
}
`;
}

export const INPUT_FLEET_TOML = `[fleet]
name = "update"
`;

export const CLASSIC_INPUT_FLEET_TOML = `[fleet]
name = "update"
layout = "classic"
attribute = "hosts.{host}.config.system.build.toplevel"
`;

/**
 * A fleet of three hosts (web1 and web2 with nginx, db1 without) whose configurations take a
 * package set from a second local git repository: a flake input (`git+file://`) or, classic,
 * an entry of `pins.json` fetched with builtins.fetchGit. Every host is listed in oscd.toml.
 */
export async function inputFleet(layout: FleetLayout, pkgs: PkgsRepo, hosts: ConfigHost[] = defaultConfigHosts()): Promise<FleetRepo> {
  const fleet = await FleetRepo.create({ layout, hosts: hosts.map((h) => h.name) });
  await writeFile(join(fleet.dir, "lib/configuration.nix"), CONFIGURATION_NIX);
  for (const h of hosts) await writeFile(join(fleet.dir, "hosts", `${h.name}.nix`), configHostFile(h));
  const names = hosts.map((h) => h.name);
  const listed = names.map((n) => `\n[hosts.${n}]\n`).join("");
  if (layout === "flake") {
    await writeFile(join(fleet.dir, "flake.nix"), inputFlake(pkgs, names));
    await writeFile(join(fleet.dir, "oscd.toml"), INPUT_FLEET_TOML + listed);
    await fleet.git(["add", "-A"]);
    await must("nix", ["flake", "lock", fleet.dir], { timeoutMs: 120_000 });
  } else {
    await writeFile(join(fleet.dir, "default.nix"), inputClassic(names));
    await writeFile(join(fleet.dir, "pins.json"), `${JSON.stringify({ pkgs: { url: pkgs.url, ref: "main", rev: await pkgs.head() } }, null, 2)}\n`);
    await writeFile(join(fleet.dir, "oscd.toml"), CLASSIC_INPUT_FLEET_TOML + listed);
  }
  await fleet.git(["add", "-A"]);
  await fleet.git(["commit", "-q", "-m", "Hosts take the pkgs input"]);
  return fleet;
}

export function defaultConfigHosts(): ConfigHost[] {
  return [
    { name: "web1", nginx: true },
    { name: "web2", nginx: true },
    { name: "db1", nginx: false },
  ];
}

/** Changes one host's kernel (a change that needs a reboot there) and commits. */
export async function commitKernelChange(fleet: FleetRepo, host: ConfigHost, kernelVersion: string): Promise<string> {
  await writeFile(join(fleet.dir, "hosts", `${host.name}.nix`), configHostFile({ ...host, kernelVersion }));
  await fleet.git(["commit", "-q", "-am", `${host.name}: kernel ${kernelVersion}`]);
  return fleet.head();
}
