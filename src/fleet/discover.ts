import { evalExprJson, type NixCallOptions } from "../nix/index.js";
import { z } from "zod";
import type { Fleet } from "./load.js";
import type { SelectableHost } from "./select.js";

export interface FleetHost extends SelectableHost {
  name: string;
  tags: string[];
  /** True when the host is in nixosConfigurations but not listed in oscd.toml. */
  discovered: boolean;
}

/**
 * The fleet's hosts: those listed in oscd.toml, plus (flake layout) every name in
 * `nixosConfigurations` of the given flake reference, which oscd finds by itself.
 */
export async function fleetHosts(fleet: Fleet, flakeRef: string | undefined, opts: NixCallOptions = {}): Promise<FleetHost[]> {
  const listed = Object.entries(fleet.config.hosts).map(([name, h]) => ({ name, tags: h.tags, discovered: false }));
  if (fleet.layout !== "flake" || !flakeRef) return listed.sort((a, b) => a.name.localeCompare(b.name));
  const pure = /[?&](rev|narHash)=/.test(flakeRef) || flakeRef.startsWith("/nix/store/");
  const names = z
    .array(z.string())
    .parse(await evalExprJson(`builtins.attrNames ((builtins.getFlake ${JSON.stringify(flakeRef)}).outputs.nixosConfigurations or {})`, { ...opts, impure: !pure }));
  const known = new Set(listed.map((h) => h.name));
  const found = names.filter((n) => !known.has(n)).map((name) => ({ name, tags: [] as string[], discovered: true }));
  return [...listed, ...found].sort((a, b) => a.name.localeCompare(b.name));
}
