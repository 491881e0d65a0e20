import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import type { ZodIssue } from "zod";
import { OscdError } from "../core/errors.js";
import { DEFAULT_ATTRIBUTE, fleetSchema, type FleetFile, type HealthConfig } from "./schema.js";
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

function describeIssue(i: ZodIssue): string {
  const where = i.path.length > 0 ? i.path.join(".") : "(top level)";
  if (i.code === "unrecognized_keys") return `${where}: unknown key(s) ${i.keys.map((k) => JSON.stringify(k)).join(", ")}`;
  return `${where}: ${i.message}`;
}

/** Parses and validates fleet-file text; `name` is used in error messages. */
export function parseFleetFile(text: string, name = FLEET_FILE): FleetFile {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new FleetConfigError(name, `not valid TOML: ${msg}`);
  }
  const r = fleetSchema.safeParse(raw);
  if (!r.success) throw new FleetConfigError(name, r.error.issues.slice(0, 3).map(describeIssue).join("; "));
  return r.data;
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
  const template = fleet.config.hosts[host]?.attribute ?? fleet.config.fleet.attribute ?? DEFAULT_ATTRIBUTE[fleet.layout];
  return template.replaceAll("{host}", host);
}

export function hostSystem(fleet: Fleet, host: string): string {
  return fleet.config.hosts[host]?.system ?? fleet.config.fleet.system;
}

/** Fleet-wide health settings with the host's own on top. */
export function hostHealth(fleet: Fleet, host: string): HealthConfig {
  return { ...fleet.config.health, ...(fleet.config.hosts[host]?.health ?? {}) } as HealthConfig;
}
