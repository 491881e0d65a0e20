/**
 * The stage's light entry (a subset of index.ts): the machine's own configuration
 * (/etc/oscd/machine.toml) as `oscd activate` reads it, without zod unless the file needs it
 * (machine-check.ts), host discovery, selection, the JSON Schema or netboot (see src/nix/light.ts).
 */
export { loadMachineConfig } from "./machine-file.js";
export type { MachineConfig } from "./machine.js";
export { fullHealth } from "./machine-check.js";
export { OPERATIONS } from "./machine-values.js";
export type { HealthConfig, Operation } from "./machine-schemas.js";
