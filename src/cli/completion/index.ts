import type { Command } from "commander";
import { bashScript } from "./bash.js";
import { fishScript } from "./fish.js";
import { completionModel } from "./model.js";
import { zshScript } from "./zsh.js";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** The completion script for a shell, generated from the full program. */
export function completionScript(program: Command, shell: Shell): string {
  const model = completionModel(program);
  return shell === "bash" ? bashScript(model) : shell === "zsh" ? zshScript(model) : fishScript(model);
}
