import type { Command } from "commander";
import { createBundle } from "../../deploy/index.js";
import { parseValidity } from "../../publish/index.js";
import { positiveInt } from "../build-options.js";
import { printJson, table } from "../output.js";
import { progressSay } from "../progress.js";
import { dryRunHelp, printDryRun } from "../dry-run.js";

interface BundleFlags {
  on: string;
  out: string;
  repo?: string;
  ref?: string;
  signKey?: string;
  channel?: string;
  sequence?: number;
  validFor: string;
  builders?: string;
  trustDir?: string;
  stateDir?: string;
  rootsDir?: string;
  json?: boolean;
  dryRun?: boolean;
}

export function registerBundle(program: Command): void {
  program
    .command("bundle")
    .description("build hosts into a directory to carry to machines without network: their closures as a signed binary cache and a signed manifest")
    .requiredOption("--on <selection>", "the hosts to bundle: names, globs and @tags")
    .requiredOption("-o, --out <dir>", "the bundle directory (new or empty)")
    .option("-C, --repo <path-or-url>", "the fleet repository (default: the current directory)")
    .option("--ref <ref>", "a tag, branch or commit (default: HEAD of the local checkout)")
    .option("--sign-key <file>", "the fleet's Nix secret key file (default: $OSCD_SIGNING_KEY_FILE)")
    .option("--channel <name>", "the manifest's channel (the host refuses a sequence not newer than the last it applied from it)", "bundle")
    .option("--sequence <n>", "the manifest's sequence (default: seconds since 1970)", positiveInt)
    .option("--valid-for <duration>", "how long machines may install the bundle (its signed expiresAt): 12h, 30d, 8w (10m to 366d)", "30d")
    .option("--builders <spec>", "Nix remote builders")
    .option("--trust-dir <dir>", "carry the trust roots and revocation lists of this directory (a channel's trust/, as oscd trust publish writes it)")
    .option("--state-dir <dir>", "where oscd keeps its git mirror")
    .option("--roots-dir <dir>", "GC root directory for the build results")
    .option("--dry-run", dryRunHelp("it pins and builds (GC roots kept, as oscd build) but creates no directory and copies, signs and writes nothing"))
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  oscd bundle --on kiosk1 -o /media/usb/kiosk1 --sign-key /run/keys/fleet.secret
  oscd bundle --on '@shop' -o ./shop-bundle --ref v2.1.0 --valid-for 8w
  oscd bundle --on kiosk1 -o /media/usb/kiosk1 --trust-dir /srv/nix-cache/channels/trust
  oscd bundle --on '@shop' -o ./shop-bundle --dry-run   # the closures and their sizes, writing nothing

On the machine: oscd activate --bundle /media/usb/kiosk1 checks every signature and hash
before importing anything, then activates through the engine. A bundle expires (30 days
unless --valid-for): machines refuse it afterwards unless told --allow-expired.`,
    )
    .action(async (o: BundleFlags) => {
      const r = await createBundle({
        selection: o.on,
        outDir: o.out,
        repo: o.repo,
        ref: o.ref,
        keyFile: o.signKey,
        channel: o.channel,
        sequence: o.sequence,
        validForMs: parseValidity(o.validFor),
        builders: o.builders,
        trustDir: o.trustDir,
        stateDir: o.stateDir,
        rootsDir: o.rootsDir,
        dryRun: o.dryRun,
        onProgress: o.json ? undefined : (l) => progressSay()("oscd", "bundle", l),
      });
      if (r.plan) return printDryRun(r.plan, o.json);
      if (o.json) printJson({ dir: r.dir, channel: r.manifest.channel, sequence: r.manifest.sequence, version: r.manifest.version, commit: r.manifest.commit, expiresAt: r.manifest.expiresAt, hosts: r.hosts });
      else process.stdout.write(table([["HOST", "TOPLEVEL"], ...r.hosts.map((h) => [h.name, h.toplevel])]) + `bundle: ${r.dir} (channel ${r.manifest.channel}, sequence ${r.manifest.sequence}, expires ${r.manifest.expiresAt})\n`);
    });
}
