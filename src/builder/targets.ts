import { UsageError } from "../core/errors.js";
import { fleetHosts, hostAttribute, hostSystem, selectHosts, type FleetHost } from "../fleet/index.js";
import type { NixCallOptions } from "../nix/index.js";
import type { PinnedFleet } from "./pin.js";

/** One host to evaluate and build. */
export interface BuildTarget {
  name: string;
  tags: string[];
  /** Attribute path of the toplevel in the fleet's flake outputs or classic file. */
  attribute: string;
  /** The system from oscd.toml (host, else fleet default). */
  system: string;
  /** True when the host itself declares `system` in oscd.toml (then it must match the evaluation). */
  systemDeclared: boolean;
}

export interface Targets {
  /** Every host of the fleet at this commit. */
  all: FleetHost[];
  selected: BuildTarget[];
}

/** The fleet's hosts at the pinned commit (listed and discovered), and the selected ones as build targets. */
export async function buildTargets(p: PinnedFleet, selection: string | undefined, nix: NixCallOptions = {}): Promise<Targets> {
  const flakeRef = p.nixSource.kind === "flake" ? p.nixSource.flakeRef : undefined;
  const all = await fleetHosts(p.fleet, flakeRef, nix);
  if (all.length === 0) {
    throw new UsageError(
      `the fleet at ${p.source.commit.slice(0, 12)} has no hosts`,
      p.fleet.layout === "flake" ? "add nixosConfigurations to flake.nix" : "list the hosts under [hosts.<name>] in oscd.toml",
      "no-hosts",
    );
  }
  const selected = selectHosts(all, selection).map((h) => targetOf(p, h.name, h.tags));
  return { all, selected };
}

function targetOf(p: Pick<PinnedFleet, "fleet">, name: string, tags: string[]): BuildTarget {
  return {
    name,
    tags,
    attribute: hostAttribute(p.fleet, name),
    system: hostSystem(p.fleet, name),
    systemDeclared: p.fleet.config.hosts[name]?.system !== undefined,
  };
}

/**
 * One host as the only target, without listing the fleet's hosts (no discovery evaluation):
 * a machine building itself knows its name, and evaluating its attribute says whether it exists.
 */
export function hostTarget(p: Pick<PinnedFleet, "fleet">, name: string): Targets {
  const tags = p.fleet.config.hosts[name]?.tags ?? [];
  const target = targetOf(p, name, tags);
  return { all: [{ name, tags, discovered: p.fleet.config.hosts[name] === undefined }], selected: [target] };
}
