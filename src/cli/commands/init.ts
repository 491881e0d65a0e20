import { Option, type Command } from "commander";
import { CI_KINDS, initFleet, type CiKind } from "../../scaffold/index.js";
import { printJson } from "../output.js";

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("scaffold oscd.toml (hosts found in nixosConfigurations), the version file and CI workflows")
    .addOption(new Option("--ci <kind>", "also write CI workflows: release tagging from pull-request labels, and publishing").choices([...CI_KINDS]))
    .option("--branch <name>", "the release branch (default: origin's default branch, else the checked-out one, else main)")
    .option("--no-discover", "do not evaluate the flake to find hosts")
    .option("--force", "overwrite oscd.toml and workflow files that exist (never the version file)")
    .option("-C, --repo <dir>", "the fleet repository", ".")
    .option("--json", "print what was written as JSON")
    .addHelpText(
      "after",
      `
Examples:
  oscd init                      # oscd.toml with the flake's hosts, and VERSION (0.1.0) if missing
  oscd init --ci github          # plus .github/workflows/oscd-release.yml and oscd-publish.yml
  oscd init --ci github --branch master

Files that exist are kept (and listed) unless --force; with an existing oscd.toml the
workflows follow its [release] settings.`,
    )
    .action(async (o: { ci?: CiKind; branch?: string; discover: boolean; force?: boolean; repo: string; json?: boolean }) => {
      const r = await initFleet({ dir: o.repo, ci: o.ci, branch: o.branch, discover: o.discover, force: o.force, oscdVersion: program.version() ?? "latest" });
      if (o.json) return printJson(r);
      for (const f of r.written) process.stdout.write(`wrote ${f}\n`);
      for (const f of r.kept) process.stdout.write(`kept ${f} (${r.keptReasons[f] ?? "exists"})\n`);
      if (r.hosts.length > 0) process.stdout.write(`hosts: ${r.hosts.join(", ")}\n`);
      if (r.skippedHosts.length > 0) process.stdout.write(`not listed (oscd host names have letters, digits, - and _): ${r.skippedHosts.join(", ")}\n`);
    });
}
