import type { Command } from "commander";
import { registerKeys } from "./keys.js";
import { registerBuild } from "./build.js";
import { registerPublish } from "./publish.js";
import { registerManifest } from "./manifest.js";
import { registerActivate } from "./activate.js";
import { registerUpgrade } from "./upgrade.js";
import { registerRollback } from "./rollback.js";
import { registerGenerations } from "./generations.js";
import { registerStatus } from "./status.js";
import { registerRecover } from "./recover.js";
import { registerSchema } from "./schema.js";
import { registerRelease } from "./release.js";
import { registerInit } from "./init.js";
import { registerAgent } from "./agent.js";

/** One file per command; each registers itself on the program. */
export function registerCommands(program: Command): void {
  registerKeys(program);
  registerBuild(program);
  registerPublish(program);
  registerManifest(program);
  registerActivate(program);
  registerUpgrade(program);
  registerRollback(program);
  registerGenerations(program);
  registerStatus(program);
  registerRecover(program);
  registerSchema(program);
  registerRelease(program);
  registerInit(program);
  registerAgent(program);
}
