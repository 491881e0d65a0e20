import { InvalidArgumentError, type Command } from "commander";
import { OscdError, UsageError } from "../../core/errors.js";
import { buildHosts, failedHosts, pinFleet, type BuildProgress, type HostBuild } from "../../build/index.js";
import { printJson } from "../output.js";

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms}ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

/** Left-aligned columns. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd()).join("\n") + "\n";
}

export function positiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError("expected a positive whole number");
  return Number(v);
}

export function maxJobsArg(v: string): number | "auto" {
  if (v === "auto") return "auto";
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("expected a number or auto");
  return Number(v);
}

/** One stderr line per host and step. */
export function printBuildProgress(p: BuildProgress, write: (s: string) => void = (s) => process.stderr.write(s)): void {
  if (p.step === "evaluate") {
    if (p.state === "start") write(`oscd: evaluating ${p.hosts} host(s) in one Nix evaluation\n`);
    else if (p.state === "failed") write(`${p.host}: evaluation failed: ${p.detail ?? ""}\n`);
    else write(`${p.host}: evaluated ${p.toplevel ?? ""} (${p.system ?? "?"})\n`);
    return;
  }
  if (p.state === "building") write(`${p.host}: building${p.detail ? ` ${p.detail}` : ""}\n`);
  else if (p.state === "built") write(`${p.host}: built in ${formatMs(p.timeMs ?? 0)}\n`);
  else if (p.state === "present") write(`${p.host}: already present\n`);
  else write(`${p.host}: build failed: ${p.detail ?? ""}\n`);
}

export function hostError(h: { error?: OscdError }): { code: string; message: string } | undefined {
  return h.error ? { code: h.error.code, message: h.error.message } : undefined;
}

/** Exit 1 naming the hosts that failed (the others were built or published). */
export function failedHostsError(failed: readonly { name: string; failedStep?: string; error?: OscdError }[], total: number): OscdError {
  const names = failed.map((h) => `${h.name} (${h.failedStep ?? "failed"}: ${h.error?.message ?? "unknown error"})`);
  return new OscdError("hosts-failed", `${failed.length} of ${total} host(s) failed: ${names.join("; ")}`, {
    hint: "the other hosts went ahead; fix the failing hosts' configuration and run again",
  });
}

interface BuildFlags {
  repo?: string;
  ref?: string;
  on?: string;
  builders?: string;
  maxJobs?: number | "auto";
  evalOnly?: boolean;
  stateDir?: string;
  rootsDir?: string;
  timeout?: number;
  json?: boolean;
}

export function registerBuild(program: Command): void {
  program
    .command("build")
    .description("pin the fleet repository to one commit, evaluate the selected hosts in one Nix evaluation, build them and keep GC roots")
    .option("--repo <path-or-url>", "the fleet repository (default: the current directory)")
    .option("--ref <ref>", "a tag, branch or commit (default: HEAD of the local checkout)")
    .option("--on <selection>", "hosts: names, globs (web*) and @tags, comma-separated (default: all)")
    .option("--builders <spec>", "Nix remote builders, passed to Nix's --builders (e.g. 'ssh://builder aarch64-linux')")
    .option("--max-jobs <n>", "parallel local builds (Nix's --max-jobs; a number or auto)", maxJobsArg)
    .option("--eval-only", "evaluate only: print each host's toplevel and system without building")
    .option("--state-dir <dir>", "where oscd keeps its git mirror (default: ~/.cache/oscd)")
    .option("--roots-dir <dir>", "GC root directory for the results (default: /nix/var/nix/gcroots/oscd)")
    .option("--timeout <minutes>", "time limit of the build step (default: 240)", positiveInt)
    .option("--json", "print a JSON summary on stdout")
    .addHelpText(
      "after",
      `
Examples:
  oscd build                         # HEAD of the checkout in the current directory, all hosts
  oscd build --ref v1.4.0 --on 'web*,@db'
  oscd build --repo https://git.example.org/fleet.git --ref main --json
  oscd build --builders 'ssh://pi-builder aarch64-linux' --max-jobs auto
  oscd build --eval-only --json      # toplevels and systems without building

Each host is reported as built, already present or failed, with its closure size and build time.
A host that fails to evaluate or build does not stop the others; the command then exits 1.`,
    )
    .action(async (o: BuildFlags) => {
      if (o.evalOnly && (o.builders || o.maxJobs !== undefined)) throw new UsageError("--eval-only builds nothing, so --builders and --max-jobs do not apply");
      const pinned = await pinFleet({ repo: o.repo, ref: o.ref, stateDir: o.stateDir, rootDir: o.rootsDir });
      const s = pinned.source;
      process.stderr.write(`oscd: pinned commit ${s.commit.slice(0, 12)} (ref ${s.ref}${s.version ? `, version ${s.version}` : ""})\n`);
      if (pinned.uncommittedChanges) process.stderr.write(`oscd: warning: ${pinned.repo} has uncommitted changes; only the commit is built\n`);
      const report = await buildHosts(pinned, {
        selection: o.on,
        builders: o.builders,
        maxJobs: o.maxJobs,
        evalOnly: o.evalOnly,
        rootDir: o.rootsDir,
        buildTimeoutMs: o.timeout !== undefined ? o.timeout * 60_000 : undefined,
        onProgress: (p) => printBuildProgress(p),
      });
      if (o.json) {
        printJson({
          commit: report.commit,
          ref: report.ref,
          tag: report.tag,
          version: report.version,
          evalMs: report.evalMs,
          buildMs: report.buildMs,
          hosts: report.hosts.map((h: HostBuild) => ({
            name: h.name,
            system: h.system,
            status: h.status,
            failedStep: h.failedStep,
            toplevel: h.toplevel,
            drvPath: h.drvPath,
            closureSize: h.closureSize,
            timeMs: h.timeMs,
            error: hostError(h),
          })),
        });
      } else {
        const rows = [["HOST", "SYSTEM", "STATUS", "CLOSURE", "TIME", "TOPLEVEL"]];
        for (const h of report.hosts) {
          rows.push([h.name, h.system, h.status === "present" ? "already present" : h.status, formatBytes(h.closureSize), h.status === "built" ? formatMs(h.timeMs) : "-", h.toplevel ?? "-"]);
        }
        process.stdout.write(table(rows));
      }
      const failed = failedHosts(report);
      if (failed.length > 0) throw failedHostsError(failed, report.hosts.length);
    });
}
