import { z } from "zod";
import { nixRun, type NixCallOptions } from "./command.js";
import { NixOutputUnrecognisedError, parseNixJsonText, zodProblem } from "./output-error.js";
import { features, nixVersion, type NixVersion } from "./version.js";

/**
 * Nix's effective settings, `nix show-config --json` (Nix 2.8–2.19) or `nix config show --json`
 * (Nix 2.20 on, where the old name is a deprecated alias, and Lix): an object keyed by setting
 * name whose entries carry `value` (with `defaultValue`, `description`, `aliases`, … beside it).
 */
const setting = z.object({ value: z.unknown() }).passthrough();
const configShape = z.record(setting);

export type NixConfig = Map<string, unknown>;

export function parseNixConfigJson(text: string, version?: NixVersion, command = "nix config show --json"): NixConfig {
  const r = configShape.safeParse(parseNixJsonText(command, version, text));
  if (!r.success) throw new NixOutputUnrecognisedError(command, version, zodProblem(r.error));
  return new Map(Object.entries(r.data).map(([k, v]) => [k, v.value]));
}

/** The settings, or undefined when this Nix cannot print them (the caller does without). */
export async function nixConfig(opts: NixCallOptions = {}): Promise<NixConfig | undefined> {
  const version = await nixVersion(opts);
  const command = [...features(version).configShow, "--json"];
  const r = await nixRun("nix", command, { timeoutMs: 60_000, ...opts });
  if (r.exitCode !== 0) return undefined;
  return parseNixConfigJson(r.stdout, version, `nix ${command.join(" ")}`);
}

/** A setting's value as a list of words: JSON arrays as they are, strings split on white space. */
export function settingWords(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String).filter(Boolean);
  if (typeof value === "string") return value.split(/\s+/).filter(Boolean);
  return [];
}
