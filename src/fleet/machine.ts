import { readFile } from "node:fs/promises";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { FleetConfigError } from "./load.js";
import { healthSchema } from "./schema.js";

/**
 * The machine's own oscd settings (`/etc/oscd/machine.toml`, written by the NixOS module):
 * which fleet repository it follows, its name there, and what it trusts. Fleet-wide choices
 * (hosts, health, release policy) live in the fleet's oscd.toml, versioned with the release.
 */
export const machineSchema = z
  .object({
    host: z.string().optional(),
    remote: z.string().optional(),
    tagPrefix: z.string().default("v"),
    substituters: z.array(z.string()).default([]),
    trustedPublicKeys: z.array(z.string()).default([]),
    health: healthSchema.partial().optional(),
  })
  .strict();
export type MachineConfig = z.infer<typeof machineSchema>;

export const MACHINE_FILE = "/etc/oscd/machine.toml";

export async function loadMachineConfig(path = MACHINE_FILE, required = false): Promise<MachineConfig> {
  let text = "";
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (required || (e as NodeJS.ErrnoException).code !== "ENOENT") throw new FleetConfigError(path, `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (e) {
    throw new FleetConfigError(path, `not valid TOML: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
  }
  const r = machineSchema.safeParse(raw);
  if (!r.success) throw new FleetConfigError(path, r.error.issues.map((i) => `${i.path.join(".") || "(top level)"}: ${i.message}`).join("; "));
  return r.data;
}
