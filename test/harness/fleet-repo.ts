import { cp, mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { must } from "./sh.js";

export type FleetLayout = "flake" | "classic";

export interface FleetHostSpec {
  name: string;
  kernelVersion?: string;
  machineId?: string;
  failSwitch?: boolean;
  failBuild?: boolean;
  health?: "ok" | "failing";
  system?: string;
  marker?: string;
  /** The switch waits until /run/fake-nixos/gate exists in the host (a slow switch). */
  gate?: boolean;
}

const NIX_LIB = join(dirname(fileURLToPath(import.meta.url)), "nix");

/** Git identity and dates fixed so commits are reproducible and no global config is read. */
export const GIT_ENV: Record<string, string> = {
  GIT_AUTHOR_NAME: "oscd tests",
  GIT_AUTHOR_EMAIL: "tests@oscd.invalid",
  GIT_COMMITTER_NAME: "oscd tests",
  GIT_COMMITTER_EMAIL: "tests@oscd.invalid",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_TERMINAL_PROMPT: "0",
};

/**
 * A fixture fleet repository of fake NixOS hosts, in a flake layout (no inputs, evaluates
 * offline) or a classic `default.nix` layout (attribute `hosts.<name>`), with a VERSION
 * file, release tags and a `testing` branch. Each host's settings live in
 * `hosts/<name>.nix`, so a commit can change exactly one host.
 */
export class FleetRepo {
  private constructor(
    readonly dir: string,
    readonly layout: FleetLayout,
    readonly hosts: string[],
  ) {}

  static async create(opts: { layout?: FleetLayout; hosts?: (string | FleetHostSpec)[]; version?: string } = {}): Promise<FleetRepo> {
    const layout = opts.layout ?? "flake";
    const specs = (opts.hosts ?? ["web1", "web2", "db1"]).map((h) => (typeof h === "string" ? { name: h } : h));
    if (specs.length === 0) throw new Error("harness: a fleet needs at least one host");
    const dir = await mkdtemp(join(tmpdir(), `oscd-fleet-${layout}-`));
    const repo = new FleetRepo(dir, layout, specs.map((s) => s.name));
    await mkdir(join(dir, "lib"), { recursive: true });
    await mkdir(join(dir, "hosts"), { recursive: true });
    await cp(join(NIX_LIB, "fake-toplevel.nix"), join(dir, "lib/fake-toplevel.nix"));
    await cp(join(NIX_LIB, "switch-to-configuration.sh"), join(dir, "lib/switch-to-configuration.sh"));
    await cp(join(NIX_LIB, "fake-images.nix"), join(dir, "lib/fake-images.nix"));
    await cp(join(NIX_LIB, "fake-netboot.nix"), join(dir, "lib/fake-netboot.nix"));
    for (const s of specs) await writeFile(join(dir, "hosts", `${s.name}.nix`), hostFile(s));
    await writeFile(join(dir, "VERSION"), `${opts.version ?? "1.0.0"}\n`);
    await writeFile(join(dir, layout === "flake" ? "flake.nix" : "default.nix"), layout === "flake" ? flakeFile(repo.hosts) : classicFile(repo.hosts));
    await repo.git(["init", "-q", "-b", "main"]);
    await repo.git(["add", "-A"]);
    await repo.git(["commit", "-q", "-m", "Initial fleet"]);
    return repo;
  }

  /** A URL git and Nix accept for this repository. */
  get url(): string {
    return `file://${this.dir}`;
  }

  /** Attribute path of a host's toplevel in this layout. */
  attr(host: string): string {
    return this.layout === "flake" ? `nixosConfigurations.${host}.config.system.build.toplevel` : `hosts.${host}`;
  }

  /** The Nix `source` (see src/nix/installable.ts) for a commit of this repository. */
  nixSource(commit: string): { kind: "flake"; flakeRef: string } | { kind: "file"; file: string } {
    return this.layout === "flake" ? { kind: "flake", flakeRef: `git+file://${this.dir}?rev=${commit}` } : { kind: "file", file: join(this.dir, "default.nix") };
  }

  async git(args: string[]): Promise<string> {
    return (await must("git", ["-C", this.dir, ...args], { env: GIT_ENV })).stdout.trim();
  }

  async head(ref = "HEAD"): Promise<string> {
    return this.git(["rev-parse", `${ref}^{commit}`]);
  }

  /** Commits a change to one host (its marker text), so only that host's toplevel changes. */
  async commitHostChange(host: string, marker: string, message = `${host}: ${marker}`): Promise<string> {
    if (!this.hosts.includes(host)) throw new Error(`harness: no host ${host} in the fleet`);
    const file = join(this.dir, "hosts", `${host}.nix`);
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace(/marker = "[^"]*";/, `marker = ${JSON.stringify(marker)};`));
    await this.git(["commit", "-q", "-am", message]);
    return this.head();
  }

  /** Rewrites one host's settings and commits. */
  async setHost(spec: FleetHostSpec, message = `${spec.name}: settings`): Promise<string> {
    await writeFile(join(this.dir, "hosts", `${spec.name}.nix`), hostFile(spec));
    await this.git(["add", "-A"]);
    await this.git(["commit", "-q", "-m", message]);
    return this.head();
  }

  /** Sets VERSION, commits, and tags `v<version>` (annotated). */
  async release(version: string): Promise<string> {
    await writeFile(join(this.dir, "VERSION"), `${version}\n`);
    await this.git(["commit", "-q", "--allow-empty", "-am", `Release ${version}`]);
    await this.git(["tag", "-a", `v${version}`, "-m", `Release ${version}`]);
    return this.head();
  }

  /** Creates or moves a branch to a commit (default: HEAD), e.g. `testing`. */
  async branch(name: string, commit = "HEAD"): Promise<void> {
    await this.git(["branch", "-f", name, commit]);
  }

  /** Writes a file (relative path) and commits it. */
  async commitFile(path: string, content: string, message = `update ${path}`): Promise<string> {
    await mkdir(dirname(join(this.dir, path)), { recursive: true });
    await writeFile(join(this.dir, path), content);
    await this.git(["add", "-A"]);
    await this.git(["commit", "-q", "-m", message]);
    return this.head();
  }

  async destroy(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

function hostFile(s: FleetHostSpec): string {
  const lines = [
    `  hostname = ${JSON.stringify(s.name)};`,
    `  marker = ${JSON.stringify(s.marker ?? "")};`,
    `  system = ${JSON.stringify(s.system ?? "x86_64-linux")};`,
    `  kernelVersion = ${JSON.stringify(s.kernelVersion ?? "6.1.0")};`,
    `  failSwitch = ${s.failSwitch ? "true" : "false"};`,
    `  failBuild = ${s.failBuild ? "true" : "false"};`,
    `  health = ${JSON.stringify(s.health ?? "ok")};`,
  ];
  if (s.machineId) lines.push(`  machineId = ${JSON.stringify(s.machineId)};`);
  if (s.gate) lines.push("  gate = true;");
  return `{\n${lines.join("\n")}\n}\n`;
}

// The version comes from VERSION, so a release commit changes every toplevel's nixos-version.
const MK_HOST = `mk = name: import ./lib/fake-toplevel.nix ((import (./hosts + "/\${name}.nix")) // {
      version = builtins.replaceStrings [ "\\n" ] [ "" ] (builtins.readFile ./VERSION);
    });`;

// Images (oscd image): config.system.build.images in a flake, a top-level `images.<host>` in the classic layout.
const MK_IMAGES = `mkImages = name: import ./lib/fake-images.nix ((import (./hosts + "/\${name}.nix")) // {
      version = builtins.replaceStrings [ "\\n" ] [ "" ] (builtins.readFile ./VERSION);
    });`;

// Netboot (oscd image --format netboot): config.system.build.netbootRamdisk in a flake.
const MK_RAMDISK = `mkRamdisk = name: import ./lib/fake-netboot.nix ((import (./hosts + "/\${name}.nix")) // {
      version = builtins.replaceStrings [ "\\n" ] [ "" ] (builtins.readFile ./VERSION);
    });`;

function flakeFile(hosts: string[]): string {
  const entries = hosts.map((h) => `      ${h} = { config.system.build = { toplevel = mk ${JSON.stringify(h)}; images = mkImages ${JSON.stringify(h)}; netbootRamdisk = mkRamdisk ${JSON.stringify(h)}; }; };`).join("\n");
  return `{
  description = "oscd test fleet";
  outputs = { self }:
    let
    ${MK_HOST}
    ${MK_IMAGES}
    ${MK_RAMDISK}
    in {
      nixosConfigurations = {
${entries}
      };
    };
}
`;
}

function classicFile(hosts: string[]): string {
  const entries = hosts.map((h) => `    ${h} = mk ${JSON.stringify(h)};`).join("\n");
  const images = hosts.map((h) => `    ${h} = mkImages ${JSON.stringify(h)};`).join("\n");
  return `{ }:
let
  ${MK_HOST}
  ${MK_IMAGES}
in {
  hosts = {
${entries}
  };
  images = {
${images}
  };
}
`;
}
