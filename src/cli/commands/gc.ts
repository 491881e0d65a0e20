import { Command } from "commander";
import { applyRetention, compactRange, retentionPlan, withHostLock, DEFAULT_LAYOUT, type GenerationFate, type RetentionResult } from "../../activate/index.js";
import { loadMachineConfig, retentionSchema, type RetentionPolicy } from "../../fleet/index.js";
import { UsageError } from "../../core/errors.js";
import { formatBytes, formatMs, printJson, printTable } from "../output.js";
import { parseDuration, parseSize } from "../gc-options.js";
import { progressPrinter } from "../progress.js";

interface GcFlags {
  config: string;
  keepGenerations?: string;
  keepDays?: string;
  collect?: boolean;
  maxFreed?: string;
  timeLimit?: string;
  dryRun?: boolean;
  json?: boolean;
  quiet?: boolean;
  roots?: boolean;
  rootsDir?: string;
  keep?: string;
  olderThan?: string;
  manifests?: string[];
  keepSequences?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function whole(v: string | undefined, flag: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be a whole number of at least ${min}`, `e.g. ${flag} ${Math.max(min, 3)}`, "bad-retention");
  return n;
}

export function registerGc(program: Command): void {
  program
    .command("gc")
    .description("free disk space: remove old system generations (with their records, source roots and boot entries) by the retention policy, or a build machine's old GC roots (--roots), then optionally collect garbage")
    .option("--config <file>", "machine configuration (its retention table is the policy)", "/etc/oscd/machine.toml")
    .option("--keep-generations <n>", "keep the newest N generations (instead of retention.keepGenerations)")
    .option("--keep-days <days>", "also keep generations younger than this (instead of retention.keepDays)")
    .option("--collect", "then run Nix's garbage collector")
    .option("--max-freed <size>", "with --collect: stop once this much is freed (e.g. 2G)")
    .option("--time-limit <duration>", "with --collect: stop after this long (e.g. 10m); what was deleted stays deleted")
    .option("--dry-run", "only show what would go")
    .option("--roots", "a build machine: drop old source-* and build-* GC roots instead of generations")
    .option("--roots-dir <dir>", "with --roots: the GC root directory (default /nix/var/nix/gcroots/oscd)")
    .option("--keep <n>", "with --roots: source snapshots kept, newest first", "3")
    .option("--older-than <duration>", "with --roots: also drop result roots (build, checks, inspect) older than this, e.g. 14d")
    .option("--manifests <dir>", "with --roots: a channel directory (<channel>.<sequence>.json) whose newest manifests' systems and commits are kept; repeatable", collect)
    .option("--keep-sequences <m>", "with --roots: how many newest manifests per channel count", "5")
    .option("--json", "print as JSON")
    .option("-q, --quiet", "no progress lines")
    .addHelpText(
      "after",
      `
Examples:
  sudo oscd gc --dry-run                       # what retention in /etc/oscd/machine.toml removes
  sudo oscd gc --keep-generations 5 --collect --max-freed 5G
  oscd gc --roots --manifests /srv/cache/channels --collect      # on a CI runner
  oscd gc --roots --older-than 30d --dry-run --json

Never removed: the running, booted and current generation and the previous-good one (the one
oscd rollback goes to). Boot entries of removed generations go through the current system's own
switch-to-configuration boot (the boot loader writes entries only for generations that exist).`,
    )
    .action(async (o: GcFlags) => {
      const collectOpts = o.collect ? { maxFreedBytes: o.maxFreed !== undefined ? parseSize(o.maxFreed) : undefined, timeLimitMs: o.timeLimit !== undefined ? parseDuration(o.timeLimit, "--time-limit") : undefined } : undefined;
      if (o.roots) return rootsGc(o, collectOpts);
      const machine = await loadMachineConfig(o.config);
      const policy: RetentionPolicy = retentionSchema.parse({
        ...machine.retention,
        ...(o.keepGenerations !== undefined ? { keepGenerations: whole(o.keepGenerations, "--keep-generations", 1) } : {}),
        ...(o.keepDays !== undefined ? { keepDays: whole(o.keepDays, "--keep-days", 0) } : {}),
      });
      if (o.dryRun) {
        const plan = await retentionPlan(DEFAULT_LAYOUT, policy);
        if (o.json) return printJson({ policy, generations: plan, wouldRemove: plan.filter((p) => p.keep.length === 0).map((p) => p.generation) });
        return printPlan(plan);
      }
      const say = progressPrinter(!o.quiet && !o.json);
      const r = await withHostLock(DEFAULT_LAYOUT, "gc", () => applyRetention(DEFAULT_LAYOUT, policy, { gc: collectOpts ?? (policy.collectGarbage ? undefined : false), log: (l) => say("gc", l) }), (l) => say("recover", l));
      if (o.json) return printJson(r);
      printResult(r);
    });
}

export function printPlan(plan: readonly GenerationFate[]): void {
  printTable(
    ["GEN", "DATE", "FATE", "WHY"],
    plan.map((p) => [String(p.generation), p.createdAt.slice(0, 19).replace("T", " "), p.keep.length > 0 ? "keep" : "would go", p.keep.join(", ") || "-"]),
  );
}

function printResult(r: RetentionResult): void {
  const lines = [`removed: ${r.removed.length > 0 ? `generation(s) ${compactRange(r.removed)}` : "no generation"}; ${r.kept} kept`];
  if (r.staleCleaned > 0) lines.push(`cleaned: ${r.staleCleaned} record(s) and root(s) of generations already gone`);
  if (r.sourceRootsRemoved.length > 0) lines.push(`source roots dropped: ${r.sourceRootsRemoved.length}`);
  if (r.bootEntriesFrom) lines.push(`boot entries: rewritten by ${r.bootEntriesFrom}`);
  if (r.gc) lines.push(`garbage: ${r.gc.paths} store path(s), ${formatBytes(r.gc.freedBytes)} freed${r.gc.stoppedByTimeLimit ? " (stopped at the time limit)" : ""}`);
  process.stdout.write(lines.join("\n") + "\n");
}

async function rootsGc(o: GcFlags, collectOpts: { maxFreedBytes?: number; timeLimitMs?: number } | undefined): Promise<void> {
  const { gcRoots } = await import("../../publish/index.js");
  const r = await gcRoots({
    rootDir: o.rootsDir,
    keepSources: whole(o.keep, "--keep", 0),
    olderThanMs: o.olderThan !== undefined ? parseDuration(o.olderThan, "--older-than") : undefined,
    manifestDirs: o.manifests,
    keepSequences: whole(o.keepSequences, "--keep-sequences", 1),
    dryRun: o.dryRun,
    collect: collectOpts,
  });
  if (o.json) return printJson(r);
  printTable(
    ["ROOT", "KIND", "AGE", "FATE", "WHY"],
    r.roots.map((x) => [x.name, x.kind, formatMs(x.ageMs), x.keep.length > 0 ? "keep" : o.dryRun ? "would go" : "removed", x.keep.join(", ") || "-"]),
  );
  if (r.gc) process.stdout.write(`garbage: ${r.gc.paths} store path(s), ${formatBytes(r.gc.freedBytes)} freed${r.gc.stoppedByTimeLimit ? " (stopped at the time limit)" : ""}\n`);
}
