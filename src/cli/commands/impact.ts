import { InvalidArgumentError, type Command } from "commander";
import { OscdError } from "../../core/errors.js";
import { impact } from "../../inspect/index.js";
import { writeFile } from "node:fs/promises";
import { progressPrinter } from "../progress.js";
import { impactMarkdown, impactText } from "../system-diff-format.js";

interface ImpactFlags {
  from: string;
  to: string;
  on?: string;
  format: "text" | "markdown" | "json";
  repo?: string;
  stateDir?: string;
  rootsDir?: string;
  quiet?: boolean;
  output?: string;
}

function format(v: string): ImpactFlags["format"] {
  if (v === "text" || v === "markdown" || v === "json") return v;
  throw new InvalidArgumentError("expected text, markdown or json");
}

export function registerImpact(program: Command): void {
  program
    .command("impact")
    .description("for every host, whether a change touches it, its package diff and reboot forecast, in one evaluation per ref")
    .requiredOption("--from <ref>", "the base, e.g. the pull request's base commit")
    .requiredOption("--to <ref>", "the change, e.g. the pull request's head commit")
    .option("--on <selection>", "hosts: names, globs (web*) and @tags, comma-separated (default: all)")
    .option("--format <format>", "text, markdown (a pull-request comment) or json", format, "text")
    .option("-C, --repo <path-or-url>", "the fleet repository (default: the current directory)")
    .option("--state-dir <dir>", "where oscd keeps its git mirror (default: ~/.cache/oscd)")
    .option("--roots-dir <dir>", "GC root directory (default: /nix/var/nix/gcroots/oscd)")
    .option("--output <file>", "write the report to this file instead of stdout (also when a host failed)")
    .option("-q, --quiet", "no progress lines")
    .addHelpText(
      "after",
      `
Examples:
  oscd impact --from main --to my-branch
  oscd impact --from "$BASE_SHA" --to "$HEAD_SHA" --format markdown > impact.md

Only hosts whose toplevel changes are built (both sides, one Nix build). Exit 1 when a host
fails to evaluate or build at either ref; the report still lists every host.`,
    )
    .action(async (o: ImpactFlags) => {
      const r = await impact({ from: o.from, to: o.to, selection: o.on, repo: o.repo, stateDir: o.stateDir, rootDir: o.rootsDir, onProgress: progressPrinter(!o.quiet && o.format === "text") });
      const text = o.format === "json" ? `${JSON.stringify(r, null, 2)}\n` : o.format === "markdown" ? impactMarkdown(r) : impactText(r);
      if (o.output !== undefined) await writeFile(o.output, text);
      else process.stdout.write(text);
      const failed = r.hosts.filter((h) => h.status === "failed");
      if (failed.length > 0) {
        throw new OscdError("impact-hosts-failed", `${failed.length} host(s) failed to evaluate or build: ${failed.map((h) => `${h.host} (${h.error?.side})`).join(", ")}`, {
          hint: "the report above lists every host; fix the failing ones",
        });
      }
    });
}
