import type { Command } from "commander";
import { diffHost, parseEndpoint } from "../../inspect/index.js";
import { printJson } from "../output.js";
import { progressPrinter } from "../progress.js";
import { systemDiffLines } from "../system-diff-format.js";

interface DiffFlags {
  from: string;
  to?: string;
  repo?: string;
  stateDir?: string;
  rootsDir?: string;
  profile?: string;
  json?: boolean;
  quiet?: boolean;
}

export function registerDiff(program: Command): void {
  program
    .command("diff")
    .description("what a deployment changes on a host: packages added, removed and changed, closure size, and whether a reboot is needed")
    .argument("<host>", "a host of the fleet")
    .option("--from <ref|generation>", "a git ref, a generation number, a store path, running or booted", "running")
    .option("--to <ref|generation>", "a git ref, a generation number, a store path, running or booted (default: HEAD of the checkout)")
    .option("-C, --repo <path-or-url>", "the fleet repository (default: the current directory)")
    .option("--state-dir <dir>", "where oscd keeps its git mirror (default: ~/.cache/oscd)")
    .option("--roots-dir <dir>", "GC root directory (default: /nix/var/nix/gcroots/oscd)")
    .option("--profile <path>", "the system profile whose generations are numbered", "/nix/var/nix/profiles/system")
    .option("--json", "print the diff as JSON")
    .option("-q, --quiet", "no progress lines")
    .addHelpText(
      "after",
      `
Examples:
  oscd diff web1 --to main                    # this machine's running system → main
  oscd diff web1 --from v1.3.0 --to v1.4.0
  oscd diff web1 --from 41 --to 42            # two generations of this machine

Git refs are built (substituting from the caches Nix knows) so their closures can be compared.
The reboot forecast uses the agent's triggers: kernel, initrd, kernel modules, kernel parameters.`,
    )
    .action(async (host: string, o: DiffFlags) => {
      const to = o.to === undefined ? { kind: "ref" as const, ref: "HEAD" } : parseEndpoint(o.to);
      const r = await diffHost({
        host,
        from: parseEndpoint(o.from),
        to,
        repo: o.repo,
        stateDir: o.stateDir,
        rootDir: o.rootsDir,
        profile: o.profile,
        onProgress: progressPrinter(!o.quiet && !o.json),
      });
      if (o.json) return printJson(r);
      process.stdout.write(`${host}: ${r.fromLabel} → ${r.toLabel}\n${systemDiffLines(r).join("\n")}\n`);
    });
}
