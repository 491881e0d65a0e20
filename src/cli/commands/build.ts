import type { Command } from "commander";
import { OscdError, UsageError } from "../../core/errors.js";
import { buildHosts, failedHosts, parseOverrideInputs, pinFleet, type BuildProgress, type HostBuild } from "../../builder/index.js";
import { formatMs, formatBytes, printJson, table } from "../output.js";
import { progressSay, warn } from "../progress.js";
import { addBuildSourceOptions, type BuildSourceFlags } from "../build-options.js";

/** One stderr line per host and step (progress.ts's format). */
export function printBuildProgress(p: BuildProgress, write: (s: string) => void = (s) => process.stderr.write(s)): void {
  const say = progressSay(write);
  if (p.step === "evaluate") {
    if (p.state === "start") say("oscd", "evaluate", `${p.hosts} host(s) in one Nix evaluation`);
    else if (p.state === "failed") say(p.host, "evaluate", `failed: ${p.detail ?? ""}`);
    else say(p.host, "evaluate", `evaluated ${p.toplevel ?? ""} (${p.system ?? "?"})`);
    return;
  }
  if (p.state === "building") say(p.host, "build", `building${p.detail ? ` ${p.detail}` : ""}`);
  else if (p.state === "built") say(p.host, "build", `built in ${formatMs(p.timeMs ?? 0)}`);
  else if (p.state === "present") say(p.host, "build", "already present");
  else say(p.host, "build", `failed: ${p.detail ?? ""}`);
}

/** The command's own line about the commit it pinned. */
export function printPinned(s: { commit: string; ref: string; version?: string }): void {
  progressSay()("oscd", "pin", `commit ${s.commit.slice(0, 12)} (ref ${s.ref}${s.version ? `, version ${s.version}` : ""})`);
}

export function hostError(h: { error?: OscdError }): { code: string; message: string } | undefined {
  return h.error ? { code: h.error.code, message: h.error.message } : undefined;
}

/**
 * Exit 1 naming the hosts that failed (the others were built or published); each host's own
 * message from Nix (its file and line, its build log's tail) follows, under the host's name.
 */
export function failedHostsError(failed: readonly { name: string; failedStep?: string; error?: OscdError }[], total: number): OscdError {
  const names = failed.map((h) => `${h.name} (${h.failedStep ?? "failed"}: ${h.error?.message ?? "unknown error"})`);
  const details = failed.filter((h) => h.error?.detail).map((h) => `${h.name} (${h.failedStep ?? "failed"}):\n${(h.error?.detail ?? "").replace(/^/gm, "  ")}`);
  return new OscdError("hosts-failed", `${failed.length} of ${total} host(s) failed: ${names.join("; ")}`, {
    hint: "the other hosts went ahead; fix the failing hosts' configuration (Nix's message above says where) and run again",
    detail: details.length > 0 ? details.join("\n\n") : undefined,
  });
}

interface BuildFlags extends BuildSourceFlags {
  evalOnly?: boolean;
  overrideInput: string[];
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function registerBuild(program: Command): void {
  const cmd = program
    .command("build")
    .description("pin the fleet repository to one commit, evaluate the selected hosts in one Nix evaluation, build them and keep GC roots");
  addBuildSourceOptions(cmd, "hosts: names, globs (web*) and @tags, comma-separated (default: all)")
    .option("--eval-only", "evaluate only: print each host's toplevel and system without building")
    .option("--override-input <name=ref>", "evaluate with a flake input replaced, e.g. nixpkgs=path:/srv/nixpkgs (flakes; repeatable)", collect, [])
    .addHelpText(
      "after",
      `
Examples:
  oscd build                         # HEAD of the checkout in the current directory, all hosts
  oscd build --ref v1.4.0 --on 'web*,@db'
  oscd build --repo https://git.example.org/fleet.git --ref main --json
  oscd build --builders 'ssh://pi-builder aarch64-linux' --max-jobs auto
  oscd build --eval-only --json      # toplevels and systems without building
  oscd build --override-input nixpkgs=path:/srv/nixpkgs

Each host is reported as built, already present or failed, with its closure size and build time.
A host that fails to evaluate or build does not stop the others; the command then exits 1.`,
    )
    .action(async (o: BuildFlags) => {
      if (o.evalOnly && (o.builders || o.maxJobs !== undefined)) throw new UsageError("--eval-only builds nothing, so --builders and --max-jobs do not apply");
      const overrideInputs = parseOverrideInputs(o.overrideInput);
      const pinned = await pinFleet({ repo: o.repo, ref: o.ref, stateDir: o.stateDir, rootDir: o.rootsDir });
      const s = pinned.source;
      printPinned(s);
      if (pinned.uncommittedChanges && pinned.uncommittedFleetFiles.length === 0) warn(`${pinned.repo} has uncommitted changes; only the commit is built`);
      const report = await buildHosts(pinned, {
        selection: o.on,
        builders: o.builders,
        maxJobs: o.maxJobs,
        evalOnly: o.evalOnly,
        overrideInputs,
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
          overrideInputs: report.overrideInputs,
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
        process.stdout.write(table(rows, [2]));
      }
      const failed = failedHosts(report);
      if (failed.length > 0) throw failedHostsError(failed, report.hosts.length);
    });
}
