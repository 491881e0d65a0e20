/** The fleet file (oscd.toml), host discovery and host selection. */
export * from "./schema.js";
export * from "./load.js";
export * from "./select.js";
export * from "./discover.js";
export * from "./machine.js";
export { loadMachineConfig } from "./machine-file.js";
export * from "./json-schema.js";
export * from "./names.js";
export * from "./secrets.js";
export * from "./ssh-target.js";
export * from "./netboot.js";
export * from "./retention.js";
export * from "./rollout.js";
