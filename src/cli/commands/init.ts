import { Option, type Command } from "commander";
import { access } from "node:fs/promises";
import { dryRunPlan } from "../../core/dry-run.js";
import { CI_KINDS, initFleet, type CiKind } from "../../scaffold/index.js";
import { formatPublicKey, publicKeyOf } from "../../nix/index.js";
import { dryRunHelp, printDryRun } from "../dry-run.js";
import { collect, publicKeyArgs, signKeyFiles } from "../key-args.js";
import { printJson } from "../output.js";

interface InitFlags {
  ci?: CiKind;
  branch?: string;
  discover: boolean;
  force?: boolean;
  dryRun?: boolean;
  repo: string;
  signKey?: string;
  trustedKey?: string[];
  cache?: string[];
  json?: boolean;
}

/** The public key file `oscd keys generate` wrote beside a secret one, if it is there. */
async function publicFileBeside(secretFile: string): Promise<string | undefined> {
  if (!secretFile.endsWith(".secret")) return undefined;
  const file = `${secretFile.slice(0, -".secret".length)}.public`;
  return access(file).then(
    () => file,
    () => undefined,
  );
}

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("scaffold oscd.toml (hosts found in nixosConfigurations, caches, trusted keys), the version file and CI workflows")
    .option("--sign-key <file>", "the fleet's secret key file (oscd keys generate): its public key goes into [keys] trusted; the file itself is only read")
    .option("--trusted-key <key>", "a public key for [keys] trusted, name:base64 or a .public file (repeatable; instead of or besides --sign-key)", collect)
    .option("--cache <url>", "a binary cache for caches (file://, https://, ssh-ng://, s3://; repeatable)", collect)
    .addOption(new Option("--ci <kind>", "also write CI workflows: release tagging from pull-request labels, and publishing").choices([...CI_KINDS]))
    .option("--branch <name>", "the release branch (default: origin's default branch, else the checked-out one, else main)")
    .option("--no-discover", "do not evaluate the flake to find hosts")
    .option("--force", "overwrite oscd.toml and workflow files that exist (never the version file)")
    .option("-C, --repo <dir>", "the fleet repository", ".")
    .option("--dry-run", dryRunHelp("it evaluates the flake to find hosts; with --json each file's content is in the plan (files)"))
    .option("--json", "print what was written as JSON")
    .addHelpText(
      "after",
      `
Examples:
  oscd keys generate fleet-1
  oscd init --sign-key fleet-1.secret --cache file:///srv/nix-cache
  oscd init --trusted-key fleet-1.public --cache https://cache.example.org --ci github
  oscd init --ci github --branch master
  oscd init --dry-run --ci github

Files that exist are kept (and listed) unless --force; with an existing oscd.toml the
workflows follow its [release] settings. oscd builds commits, never the working tree: commit
what init wrote before publishing (init prints the next three commands).`,
    )
    .action(async (o: InitFlags) => {
      const [secret] = o.signKey ? await signKeyFiles([o.signKey]) : [];
      const given = await publicKeyArgs(o.trustedKey);
      const keys = [...(secret ? [publicKeyOf(secret)] : []), ...given].map(formatPublicKey);
      const trusted = [...new Set(keys)];
      const publicFile = o.signKey ? await publicFileBeside(o.signKey) : o.trustedKey?.find((k) => !k.includes(":"));
      const r = await initFleet({
        dir: o.repo,
        ci: o.ci,
        branch: o.branch,
        discover: o.discover,
        force: o.force,
        dryRun: o.dryRun,
        oscdVersion: program.version() ?? "latest",
        caches: o.cache,
        trusted,
        signKeyFile: o.signKey,
        trustedKeyRef: publicFile ?? trusted[0],
      });
      if (o.dryRun) {
        const plan = dryRunPlan("init", r.layout === "flake" && o.discover ? ["evaluated the flake's nixosConfigurations"] : []);
        for (const f of r.files ?? []) {
          const lines = f.content.split("\n").length - 1;
          plan.steps.push({ action: "write", target: f.path, detail: `${lines} line${lines === 1 ? "" : "s"}` });
        }
        for (const f of r.kept) plan.steps.push({ action: "keep", target: f, detail: r.keptReasons[f] ?? "exists" });
        // With --json, each file's content too: what a reviewer wants to read before it is written.
        const withFiles = { ...plan, files: r.files ?? [] };
        return printDryRun(o.json ? withFiles : plan, o.json);
      }
      if (o.json) return printJson(r);
      for (const f of r.written) process.stdout.write(`wrote ${f}\n`);
      for (const f of r.kept) process.stdout.write(`kept ${f} (${r.keptReasons[f] ?? "exists"})\n`);
      if (r.hosts.length > 0) process.stdout.write(`hosts: ${r.hosts.join(", ")}\n`);
      if (r.skippedHosts.length > 0) process.stdout.write(`not listed (oscd host names have letters, digits, - and _): ${r.skippedHosts.join(", ")}\n`);
      process.stdout.write(`caches: ${r.caches.join(", ") || "none yet (oscd publish needs one: --cache URL)"}\n`);
      process.stdout.write(`trusted keys: ${r.trusted.map((k) => k.split(":")[0]).join(", ") || "none yet (--sign-key FILE or --trusted-key KEY)"}\n`);
      process.stdout.write(`next:\n${r.next.map((c) => `  ${c}\n`).join("")}`);
    });
}
