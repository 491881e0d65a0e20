import type { Command } from "commander";
import { pinFleet } from "../../builder/index.js";
import { optionValue } from "../../inspect/index.js";
import { printJson } from "../output.js";

interface OptionFlags {
  ref?: string;
  repo?: string;
  stateDir?: string;
  json?: boolean;
}

function plain(v: unknown): string {
  if (typeof v === "string") return v;
  return JSON.stringify(v, null, 2);
}

export function registerOption(program: Command): void {
  program
    .command("option")
    .description("print the value of a NixOS option in a host's configuration at a ref (like nixos-option), for flakes and classic layouts")
    .argument("<host>", "a host of the fleet")
    .argument("<path>", "an option path, e.g. services.nginx.enable")
    .option("--ref <ref>", "a tag, branch or commit (default: HEAD of the local checkout)")
    .option("-C, --repo <path-or-url>", "the fleet repository (default: the current directory)")
    .option("--state-dir <dir>", "where oscd keeps its git mirror (default: ~/.cache/oscd)")
    .option("--json", "print the value as JSON")
    .addHelpText(
      "after",
      `
Examples:
  oscd option web1 services.nginx.enable
  oscd option db1 networking.hostName --ref v1.4.0
  oscd option web1 services.nginx --json

Functions print as {"_oscd":"function"}, values that fail to evaluate as {"_oscd":"error"}.
A path that does not exist is an error naming the nearest existing names (exit 2).`,
    )
    .action(async (host: string, path: string, o: OptionFlags) => {
      const pinned = await pinFleet({ repo: o.repo, ref: o.ref, stateDir: o.stateDir });
      const value = await optionValue({ source: pinned.nixSource, fleet: pinned.fleet, host, path, ref: pinned.source.ref });
      if (o.json) return printJson(value);
      process.stdout.write(`${plain(value)}\n`);
    });
}
