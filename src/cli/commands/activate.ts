import { Command, Option } from "commander";
import { hostname } from "node:os";
import { activate } from "../../activate/index.js";
import { UsageError } from "../../core/errors.js";
import { activateBundle } from "../../deploy/index.js";
import { healthSchema, loadMachineConfig, operationSchema, type Operation } from "../../fleet/index.js";
import { printJson } from "../output.js";
import { progressPrinter } from "../progress.js";
import { printActivation } from "./print-activation.js";

export function registerActivate(program: Command): void {
  program
    .command("activate")
    .argument("[toplevel]", "a NixOS system toplevel store path, built here or in a trusted cache")
    .description("move this machine to a system with the activation engine: realise, guard, profile, switch, health checks, commit or roll back")
    .addOption(new Option("--mode <mode>", "switch, boot, test or dry-activate").choices(operationSchema.options).default("switch"))
    .option("--host <name>", "this machine's name in the fleet (default: its hostname)")
    .option("--config <file>", "machine configuration", "/etc/oscd/machine.toml")
    .option("--allow-downgrade", "accept a release older than the running one")
    .option("--retry-failed", "try a system that already failed on this machine")
    .option("--force", "activate even if the system already runs this toplevel")
    .option("--bundle <dir>", "a bundle from oscd bundle: verified completely, then imported and activated")
    .option("--json", "print the result as JSON")
    .option("-q, --quiet", "no progress lines")
    .addHelpText(
      "after",
      `
Examples:
  oscd activate /nix/store/…-nixos-system-web1-1.2.0
  oscd activate --mode boot /nix/store/…-nixos-system-web1-1.2.0     # next boot only
  oscd activate --mode test /nix/store/…                              # now, not on the boot menu
  oscd activate --bundle /media/usb/web1                              # an air-gapped bundle

A failed switch or health check rolls back to the previous system and exits 4.`,
    )
    .action(async (toplevel: string | undefined, o: { mode: Operation; host?: string; config: string; bundle?: string; allowDowngrade?: boolean; retryFailed?: boolean; force?: boolean; json?: boolean; quiet?: boolean }) => {
      const machine = await loadMachineConfig(o.config);
      if (o.bundle !== undefined) {
        if (toplevel !== undefined) throw new UsageError("give a toplevel or --bundle, not both", "the bundle's signed manifest names this host's toplevel");
        const { result } = await activateBundle(o.bundle, {
          mode: o.mode,
          host: o.host ?? machine.host ?? hostname(),
          trustedPublicKeys: machine.trustedPublicKeys,
          health: healthSchema.parse(machine.health ?? {}),
          allowDowngrade: o.allowDowngrade,
          retryFailed: o.retryFailed,
          force: o.force,
          onProgress: progressPrinter(!o.quiet && !o.json),
        });
        if (o.json) printJson(result);
        else printActivation(result);
        return;
      }
      if (toplevel === undefined) throw new UsageError("name the toplevel to activate, or pass --bundle DIR");
      const result = await activate({
        toplevel,
        mode: o.mode,
        host: o.host ?? machine.host,
        substituters: machine.substituters,
        trustedPublicKeys: machine.trustedPublicKeys,
        health: healthSchema.parse(machine.health ?? {}),
        allowDowngrade: o.allowDowngrade,
        retryFailed: o.retryFailed,
        force: o.force,
        onProgress: progressPrinter(!o.quiet && !o.json),
      });
      if (o.json) printJson(result);
      else printActivation(result);
    });
}
