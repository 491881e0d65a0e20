import { Command } from "commander";
import { hostname } from "node:os";
import { DEFAULT_LAYOUT, withHostLock, type Recovery } from "../../activate/index.js";
import { printJson } from "../output.js";
import { progressPrinter } from "../progress.js";

export function registerRecover(program: Command): void {
  program
    .command("recover")
    .description("finish a deployment a crash interrupted (every deploying command does this first)")
    .option("--json", "print as JSON")
    .addHelpText("after", "\nExamples:\n  oscd recover      # e.g. at boot, before anything else deploys\n")
    .action(async (o: { json?: boolean }) => {
      const say = progressPrinter(!o.json, hostname());
      const r = await withHostLock(DEFAULT_LAYOUT, "recover", async (recovery: Recovery | undefined) => recovery, (line) => say("recover", line));
      if (o.json) return printJson(r ?? null);
      process.stdout.write(r ? `deployment ${r.id} (interrupted at "${r.interruptedAt}"): ${r.outcome}\n` : "nothing to recover\n");
    });
}
