import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { OscdError } from "../core/errors.js";
import { describeIssues, structureProblem } from "./issues.js";
import { ownEntry } from "./names.js";
import { DEFAULT_ATTRIBUTE, fleetSchema, type ChannelConfig, type FleetFile, type HealthConfig, type HostConfig } from "./schema.js";
import { pathExists } from "../core/fs.js";

export const FLEET_FILE = "oscd.toml";

export class FleetConfigError extends OscdError {
  constructor(file: string, detail: string) {
    super("fleet-config", `${file}: ${detail}`, {
      hint: "fix the fleet file; `oscd init` writes a valid one, and `oscd schema` prints the JSON Schema of every field",
      exitCode: 2,
    });
  }
}

export interface Fleet {
  /** Repository root the file was read from. */
  root: string;
  layout: "flake" | "classic";
  config: FleetFile;
}

/**
 * TOML text to plain data; `name` is used in error messages. Any failure of the parser
 * (deep nesting included) is a fleet-config error; `__proto__` keys and documents nested
 * deeper than any oscd file needs are refused here.
 */
export function parseTomlFile(text: string, name: string): unknown {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (e) {
    // smol-toml's message continues with an excerpt of the file over several lines.
    const msg = e instanceof Error ? (e.message.split("\n")[0] ?? "") : String(e);
    throw new FleetConfigError(name, `not valid TOML: ${msg.replace(/[^\x20-\x7e]/g, "?")}`);
  }
  const problem = structureProblem(raw);
  if (problem !== undefined) throw new FleetConfigError(name, problem);
  return raw;
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
