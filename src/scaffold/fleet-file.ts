import type { ReleaseConfig } from "../fleet/index.js";

/** What a new oscd.toml says: the fleet's name and layout, its release policy and its hosts. */
export interface FleetFileSettings {
  name: string;
  layout: "flake" | "classic";
  release: ReleaseConfig;
  /** The skip label (`release:none`), for the comment. */
  skipLabel: string | undefined;
  hosts: string[];
}

/** A TOML basic string (JSON's escapes are TOML's). */
const q = (s: string): string => JSON.stringify(s);
const c = (s: string): string => s.replace(/\s+/g, " ");

/** Host names oscd.toml accepts as `[hosts.<name>]` (the schema's rule). */
export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/**
 * The channel `oscd init` names after the release branch. A channel name has letters, digits,
 * '_' and '-' only (it becomes a file name next to others: channels/<name>.<sequence>.json),
 * so `release/1.x` becomes `release-1-x`.
 */
export function channelForBranch(branch: string): string {
  const name = branch.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^[-_]+/, "").slice(0, 100).replace(/[-_]+$/, "");
  return name === "" ? "main" : name;
}

export function renderFleetFile(s: FleetFileSettings): string {
  const r = s.release;
  const layoutNote =
    s.layout === "flake"
      ? "# hosts are nixosConfigurations.<name> of flake.nix"
      : '# hosts are attributes of default.nix: set file = "…" and attribute = "…{host}…" if they differ';
  const hosts =
    s.hosts.length === 0
      ? s.layout === "flake"
        ? "# No hosts found in nixosConfigurations yet; hosts added there later are found by themselves.\n# [hosts.web1]\n# tags = [\"web\"]\n# ssh = \"root@web1.example.org\"\n"
        : "# List each host, e.g.:\n# [hosts.web1]\n# tags = [\"web\"]\n# ssh = \"root@web1.example.org\"\n"
      : "# Hosts found in nixosConfigurations. Hosts that are there but not here are still found;\n# list one to give it tags (for --on @tag), an SSH target or its own settings.\n" +
        s.hosts.map((h) => `[hosts.${h}]\ntags = []\n# ssh = "root@${h}.example.org"\n`).join("\n");
  return `# oscd fleet file: which machines, how they are built, how releases are made.
# Written by \`oscd init\`. Fields left out take their defaults.

[fleet]
name = ${q(s.name)}
layout = ${q(s.layout)}  ${layoutNote}
system = "x86_64-linux"
# remote = "https://github.com/OWNER/REPO.git"  # where machines fetch this repository

[release]
branch = ${q(r.branch)}  # the protected branch pull requests are merged into
versionFile = ${q(r.versionFile)}
tagPrefix = ${q(r.tagPrefix)}
# Several release labels on one pull request: "sequential" makes one commit and tag per
# level, major → minor → patch (1.2.3 + major + patch = v2.0.0, then v2.0.1); "highest"
# makes only the highest.
strategy = ${q(r.strategy)}

# A merged pull request's labels choose the release level.${s.skipLabel ? `\n# ${q(c(s.skipLabel))} on a pull request says: no release.` : ""}
[release.labels]
major = ${q(r.labels.major)}
minor = ${q(r.labels.minor)}
patch = ${q(r.labels.patch)}

# Channels: a branch and how machines following it apply new commits.
[channels.${channelForBranch(r.branch)}]
branch = ${q(r.branch)}
operation = "switch"

${hosts}`;
}
