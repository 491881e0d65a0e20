import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describeIssues } from "./issues.js";
import { FleetConfigError, parseTomlFile } from "./toml.js";
import { ownEntry } from "./names.js";
import { DEFAULT_ATTRIBUTE, fleetSchema, type ChannelConfig, type FleetFile, type HealthConfig, type HostConfig } from "./schema.js";
import { pathExists } from "../core/fs.js";

export const FLEET_FILE = "oscd.toml";

export { FleetConfigError, parseTomlFile } from "./toml.js";

export interface Fleet {
  /** Repository root the file was read from. */
  root: string;
  layout: "flake" | "classic";
  config: FleetFile;
}


/** Parses and validates fleet-file text; `name` is used in error messages. */
export function parseFleetFile(text: string, name = FLEET_FILE): FleetFile {
  const r = fleetSchema.safeParse(parseTomlFile(text, name));
  if (!r.success) throw new FleetConfigError(name, describeIssues(r.error.issues));
  return r.data;
}

/** The channel named `name`; `toString` and the like are no channel. */
export function fleetChannel(config: FleetFile, name: string): ChannelConfig | undefined {
  return ownEntry(config.channels, name);
}

/** The host listed in oscd.toml as `name`, if any. */
export function fleetHost(config: FleetFile, name: string): HostConfig | undefined {
  return ownEntry(config.hosts, name);
}


/**
 * Reads `oscd.toml` from a repository root (a missing file means all defaults) and decides
 * the layout: as configured, else flake when `flake.nix` exists, else classic.
 */
export async function loadFleet(root: string): Promise<Fleet> {
  const file = join(root, FLEET_FILE);
  const config = (await pathExists(file)) ? parseFleetFile(await readFile(file, "utf8"), file) : parseFleetFile("", file);
  const layout = config.fleet.layout ?? ((await pathExists(join(root, "flake.nix"))) ? "flake" : "classic");
  return { root, layout, config };
}

/** The attribute path of a host's toplevel. */
export function hostAttribute(fleet: Fleet, host: string): string {
  const template = fleetHost(fleet.config, host)?.attribute ?? fleet.config.fleet.attribute ?? DEFAULT_ATTRIBUTE[fleet.layout];
  return template.replaceAll("{host}", host);
}

export function hostSystem(fleet: Fleet, host: string): string {
  return fleetHost(fleet.config, host)?.system ?? fleet.config.fleet.system;
}

/** Fleet-wide health settings with the host's own on top. */
export function hostHealth(fleet: Fleet, host: string): HealthConfig {
  return { ...fleet.config.health, ...(fleetHost(fleet.config, host)?.health ?? {}) } as HealthConfig;
}
