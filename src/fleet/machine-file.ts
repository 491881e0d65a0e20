import { readFileSync } from "node:fs";
import type { MachineConfig } from "./machine.js";
import { plainMachineConfig } from "./machine-check.js";
import { MACHINE_FILE } from "./machine-values.js";
import { FleetConfigError, parseTomlFile } from "./toml.js";

/**
 * Reads and validates the machine's configuration (machine.ts has its schema); a missing file
 * is an empty one unless `required`. The plain check (machine-check.ts) answers for a valid
 * file; anything it is not sure of goes to machineSchema, loaded only then, for the error (or
 * the value). Read synchronously: a small file, read before anything else runs, and the start
 * of `oscd activate` then needs no promise-based file system at all for it.
 */
export async function loadMachineConfig(path = MACHINE_FILE, required = false): Promise<MachineConfig> {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if (required || (e as NodeJS.ErrnoException).code !== "ENOENT") throw new FleetConfigError(path, `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const raw = parseTomlFile(text, path);
  return plainMachineConfig(raw) ?? (await import("./machine.js")).machineConfigOf(raw, path);
}
