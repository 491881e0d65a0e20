import { Command } from "commander";
import { hostname } from "node:os";
import { UsageError } from "../../core/errors.js";
import { loadMachineConfig, type Operation } from "../../fleet/index.js";
import { specFromFlags } from "../../source/index.js";
import { upgrade } from "../../upgrade/index.js";
import { parseOverrideInputs } from "../../builder/index.js";
import { printJson } from "../output.js";
import { progressPrinter } from "../progress.js";
import { printActivation } from "./print-activation.js";
import { systemDiffLines } from "../system-diff-format.js";

interface UpgradeFlags {
  tag?: string;
  branch?: string;
  commit?: string;
  local?: string;
  boot?: boolean;
  test?: boolean;
  dryActivate?: boolean;
  overrideInput: string[];
  remote?: string;
  host?: string;
  config: string;
  allowDowngrade?: boolean;
  retryFailed?: boolean;
  requireSignedHistory?: boolean;
  json?: boolean;
  quiet?: boolean;
  diff?: boolean;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function modeOf(o: UpgradeFlags): Operation {
  const picked = [o.boot && "boot", o.test && "test", o.dryActivate && "dry-activate"].filter(Boolean) as Operation[];
  if (picked.length > 1) throw new UsageError(`--${picked.join(" and --")} cannot be combined`);
  return picked[0] ?? "switch";
}

export function registerUpgrade(program: Command): void {
  program
    .command("upgrade")
    .description("upgrade this machine in one step: newest release (or a tag, branch, commit, local tree) → read-only source snapshot → build → activate")
    .option("--tag <tag>", "a release tag, e.g. v1.4.0")
    .option("--branch <branch>", "the head of a branch, e.g. a development branch")
    .option("--commit <sha>", "an exact commit")
    .option("--local <path>", "a working tree, uncommitted changes included (prototyping)")
    .option("--boot", "make it the boot default without activating now")
    .option("--test", "activate now without making it the boot default")
    .option("--dry-activate", "show what would change, change nothing")
    .option("--override-input <name=ref>", "build with another input than the release pins (flakes; repeatable)", collect, [])
    .option("--remote <url>", "the fleet repository (default: remote in the machine configuration)")
    .option("--host <name>", "this machine's name in the fleet (default: its hostname)")
    .option("--config <file>", "machine configuration", "/etc/oscd/machine.toml")
    .option("--allow-downgrade", "accept a release older than the running one")
    .option("--retry-failed", "try a release that already failed on this machine")
    .option("--require-signed-history", "every commit since the running release's must be signed by the machine's keys, not only the new one (requireSignedHistory in machine.toml)")
    .option("--diff", "show what changes (packages, closure size, reboot) before activating")
    .option("--json", "print the result as JSON")
    .option("-q, --quiet", "no progress lines")
    .addHelpText(
      "after",
      `
Examples:
  oscd upgrade                          # the newest release tag
  oscd upgrade --tag v1.4.0 --boot      # that release, from the next boot
  oscd upgrade --branch feature-x --test
  oscd upgrade --local ~/dev/fleet      # prototype uncommitted changes
  oscd upgrade --override-input nixpkgs=path:/home/me/nixpkgs
  oscd upgrade --diff                   # packages, closure size and reboot need first
  oscd upgrade --require-signed-history # no unsigned commit since the running release

The source of every generation stays in the store, linked from /var/lib/oscd/source.
With allowedSignersPath or gpgPublicKeyPaths in the machine configuration, only a commit
signed by one of those keys is built (a --local tree is refused); with requireSignedHistory
(or --require-signed-history), every commit since the running release's commit as well.`,
    )
    .action(async (o: UpgradeFlags) => {
      const machine = await loadMachineConfig(o.config);
      const r = await upgrade({
        spec: specFromFlags(o),
        mode: modeOf(o),
        machine: { ...machine, remote: o.remote ?? machine.remote, host: o.host ?? machine.host },
        allowDowngrade: o.allowDowngrade,
        retryFailed: o.retryFailed,
        requireSignedHistory: o.requireSignedHistory,
        overrideInputs: parseOverrideInputs(o.overrideInput),
        onProgress: progressPrinter(!o.quiet && !o.json, o.host ?? machine.host ?? hostname()),
        onDiff: o.diff
          ? (d) => {
              if (o.json) return;
              process.stdout.write(d === undefined ? "diff: no running system to compare with\n" : `diff: running system → new system\n${systemDiffLines(d).join("\n")}\n`);
            }
          : undefined,
      });
      if (o.json) return printJson(r);
      const out = (s: string) => process.stdout.write(s + "\n");
      printActivation(r.activation);
      const from = r.from ? `${r.from.version ?? "?"} (${r.from.commit?.slice(0, 12) ?? "unknown commit"})` : "(nothing oscd installed)";
      out(`version: ${from} → ${r.source.version ?? "?"} (${r.source.commit.slice(0, 12)}${r.source.dirty ? ", with uncommitted changes" : ""}, ${r.source.ref})`);
      out(`source:  ${r.source.storePath}`);
      if (r.changelog.length > 0) {
        out(`changes (${r.changelog.length}):`);
        for (const c of r.changelog) out(`  ${c.id.slice(0, 12)} ${c.subject}`);
      }
    });
}
