/**
 * The stage's light entry (a subset of index.ts): the machine's own configuration
 * (/etc/oscd/machine.toml) and the schemas `oscd activate` parses with, without host discovery,
 * selection, the JSON Schema or netboot (see src/nix/light.ts).
 */
export { loadMachineConfig, type MachineConfig } from "./machine.js";
export { healthSchema, operationSchema, type HealthConfig, type Operation } from "./machine-schemas.js";
