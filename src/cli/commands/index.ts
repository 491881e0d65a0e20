import type { Command } from "commander";
import { registerKeys } from "./keys.js";

/** One file per command; each registers itself on the program. */
export function registerCommands(program: Command): void {
  registerKeys(program);
}
