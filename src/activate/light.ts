import type { ActivationRequest, ActivationResult } from "./activation.js";

/**
 * The stage's light entry, beside index.ts (which exports all of this too): what the commands
 * run on a machine at every start need, `oscd status` and `oscd activate`, without loading the
 * engine's steps until they run. Importing index.ts loads every module of the stage and the
 * stages they use (fleet, trust, manifest, all of Nix): some 150 modules, several times the
 * cost of starting Node. Everything here is light to import (test/unit/cli/startup-modules.test.ts);
 * `activate` loads the engine (engine.ts) when called, and the engine loads a deployment's
 * steps (deployment.ts) only when there is one to make.
 */
export { generations, hostStatus, type GenerationView, type HostStatus } from "./status.js";
export { RolledBackError, type ActivationRequest, type ActivationResult } from "./activation.js";
export { compactRange } from "./ranges.js";
export type { ReleaseInfo } from "./journal.js";

/** The activation engine (engine.ts), loaded when called. */
export async function activate(req: ActivationRequest): Promise<ActivationResult> {
  return (await import("./engine.js")).activate(req);
}
