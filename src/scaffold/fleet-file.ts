import type { ReleaseConfig } from "../fleet/index.js";

/** What a new oscd.toml says: the fleet's name and layout, its release policy and its hosts. */
export interface FleetFileSettings {
  name: string;
  layout: "flake" | "classic";
  release: ReleaseConfig;
  /** The skip label (`release:none`), for the comment. */
  skipLabel: string | undefined;
  hosts: string[];
  /** Binary caches publish uploads to (`caches`). */
  caches?: string[];
  /** Public keys (`name:base64`) machines and the server trust (`[keys] trusted`). */
  trusted?: string[];
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
  const caches = s.caches ?? [];
  const trusted = s.trusted ?? [];
  const cachesLine =
    caches.length > 0
      ? `caches = [${caches.map(q).join(", ")}]`
      : '# caches = ["file:///srv/nix-cache"]  # or https://, ssh-ng://, s3://: oscd init --cache URL writes it';
  const trustedLine =
    trusted.length > 0 ? `trusted = [${trusted.map(q).join(", ")}]` : '# trusted = ["fleet-1:…="]  # the public key (oscd keys generate): oscd init --sign-key FILE writes it';
  return `# oscd fleet file: which machines, how they are built, how releases are made.
# Written by \`oscd init\`. Fields left out take their defaults.

# Where oscd publish uploads the closures and writes the signed channel manifests.
${cachesLine}

[fleet]
name = ${q(s.name)}
layout = ${q(s.layout)}  ${layoutNote}
system = "x86_64-linux"

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

# The public keys manifests are signed with: publish signs only with one of them, and
# oscd manifest show, oscd server -C and oscd netboot check against them.
[keys]
${trustedLine}

# Channels: named streams of signed manifests (oscd publish --channel NAME). A channel's
# rollout plan on the control server goes in [channels.NAME.rollout].
[channels.${channelForBranch(r.branch)}]

${hosts}`;
}
