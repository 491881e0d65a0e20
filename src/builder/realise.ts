import { OscdError } from "../core/errors.js";
import type { RunResult } from "../core/exec.js";
import { ACT, addRoot, fieldNumber, fieldString, lastErrorLine, nixRun, NixCommandError, parseNixLogLine, platformMismatch, RES, stripAnsi, summariseNixMessage, type NixCallOptions } from "../nix/index.js";
import { BuildLogBook, buildLogStream, failedBuildDetail } from "./build-logs.js";

export interface RealiseJob {
  host: string;
  drvPath: string;
  outPath: string;
}

export type RealiseOutcome =
  | { status: "present" | "built"; timeMs: number }
  | { status: "failed"; timeMs: number; error: OscdError };

export type RealiseEvent = { host: string; state: "present" | "building" | "built" | "failed"; timeMs?: number; detail?: string };

export interface RealiseOptions extends NixCallOptions {
  /** `--builders` for Nix's remote builders. */
  builders?: string;
  maxJobs?: number | "auto";
  /** GC root name of each host's result (made before building). */
  rootName: (host: string) => string;
  rootDir?: string;
  onEvent?: (e: RealiseEvent) => void;
}

/** Out paths of `paths` that are not valid in the local store. */
export async function invalidPaths(paths: readonly string[], opts: NixCallOptions = {}): Promise<Set<string>> {
  if (paths.length === 0) return new Set();
  const r = await nixRun("nix-store", ["--check-validity", "--print-invalid", ...paths], { timeoutMs: 120_000, ...opts });
  if (r.exitCode !== 0) throw new NixCommandError("nix-query-failed", r, "checking which results exist");
  return new Set(r.stdout.split("\n").map((l) => l.trim()).filter(Boolean));
}

/** Least time between two checks; at least ten times the last check's own time besides. */
const CHECK_INTERVAL_MS = 1000;

/**
 * Finds out which pending results have become valid, one `nix-store --check-validity` at a
 * time, and reports each as built once. Pokes while one runs, or sooner than the interval after
 * the last, make one more check when it is due: a check reads every pending path, so checking
 * on each finished build cost a large fleet's build O(hosts²) (1,000 hosts: ~1,000 checks of
 * up to 1,000 paths, bench/publish-scale.ts). A host's build time is so exact to about a second.
 */
class DoneTracker {
  private pending: RealiseJob[];
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private settled = false;
  private lastEnd = 0;
  private lastMs = 0;

  constructor(
    jobs: readonly RealiseJob[],
    private readonly nix: NixCallOptions,
    private readonly onDone: (j: RealiseJob, timeMs: number) => void,
  ) {
    this.pending = [...jobs];
  }

  poke(start: number): void {
    if (this.settled || this.timer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const wait = this.lastEnd + Math.max(CHECK_INTERVAL_MS, 10 * this.lastMs) - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.poke(start);
      }, wait);
      return;
    }
    this.running = this.check(start).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.poke(start);
      }
    });
  }

  private async check(start: number): Promise<void> {
    if (this.pending.length === 0) return;
    const t0 = Date.now();
    let invalid: Set<string>;
    try {
      invalid = await invalidPaths(this.pending.map((j) => j.outPath), this.nix);
    } catch {
      return; // the final check reports it
    } finally {
      this.lastEnd = Date.now();
      this.lastMs = this.lastEnd - t0;
    }
    const now = Date.now() - start;
    const [doneNow, rest] = [this.pending.filter((j) => !invalid.has(j.outPath)), this.pending.filter((j) => invalid.has(j.outPath))];
    this.pending = rest;
    for (const j of doneNow) this.onDone(j, now);
  }

  /** Stops further checks, waits for a running one, then checks once more. */
  async settle(start: number): Promise<void> {
    this.settled = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running) await this.running;
    await this.check(start);
  }
}
/** Roots are made before realising, so Nix's advice to pass --add-root would only mislead. */
const NO_ROOT_WARNING = /you did not specify '--add-root'/;

/**
 * Builds the derivations of the jobs whose results are missing, in ONE `nix-store --realise`
 * (Nix's own parallelism, `--builders`, `--keep-going` so one failing host does not stop the
 * others). Each result gets its GC root before building starts. Nix's JSON log tells when each
 * host's toplevel starts and finishes building, which gives per-host progress and times.
 */
export async function realiseJobs(jobs: readonly RealiseJob[], opts: RealiseOptions): Promise<Map<string, RealiseOutcome>> {
  const out = new Map<string, RealiseOutcome>();
  const { builders, maxJobs, rootName, rootDir, onEvent, ...nix } = opts;
  for (const j of jobs) await addRoot(j.outPath, rootName(j.host), rootDir);
  const missing = await invalidPaths(jobs.map((j) => j.outPath), nix);
  const todo = jobs.filter((j) => missing.has(j.outPath));
  for (const j of jobs) {
    if (missing.has(j.outPath)) continue;
    out.set(j.host, { status: "present", timeMs: 0 });
    onEvent?.({ host: j.host, state: "present" });
  }
  if (todo.length === 0) return out;

  const byDrv = new Map<string, RealiseJob[]>();
  for (const j of todo) byDrv.set(j.drvPath, [...(byDrv.get(j.drvPath) ?? []), j]);
  const buildsActivities = new Set<number>();
  const messages: string[] = [];
  const book = new BuildLogBook(await buildLogStream(todo, nix));
  const start = Date.now();
  const tracker = new DoneTracker(todo, nix, (j, timeMs) => {
    out.set(j.host, { status: "built", timeMs });
    onEvent?.({ host: j.host, state: "built", timeMs });
  });
  let done = 0;

  const args = ["--realise", ...byDrv.keys(), "--keep-going", "--log-format", "internal-json"];
  if (builders !== undefined) args.push("--builders", builders);
  if (maxJobs !== undefined) args.push("--max-jobs", String(maxJobs));
  const onLine = (line: string) => {
    const ev = parseNixLogLine(line);
    if (!ev) {
      messages.push(line);
      return;
    }
    if (ev.action === "msg") {
      if (NO_ROOT_WARNING.test(ev.msg)) return;
      if ((ev.level ?? 9) <= 1) messages.push(ev.msg);
      nix.onLog?.(ev.msg);
    } else if (ev.action === "start" && ev.type === ACT.builds) {
      buildsActivities.add(ev.id);
    } else if (ev.action === "start" && ev.type === ACT.build) {
      const drv = fieldString(ev, 0) ?? "";
      book.started(ev.id, drv);
      const builder = fieldString(ev, 1);
      const machine = builder ? `on ${builder}` : undefined;
      for (const j of byDrv.get(drv) ?? []) onEvent?.({ host: j.host, state: "building", detail: machine });
    } else if (ev.action === "result" && ev.type === RES.progress && buildsActivities.has(ev.id)) {
      // [done, expected, running, failed]: Nix 2.8 ends each build's own activity only at the
      // very end, so a rising `done` count is the moment to look which results became valid.
      const d = fieldNumber(ev, 0) ?? 0;
      if (d > done) {
        done = d;
        tracker.poke(start);
      }
    } else if (ev.action === "result" && ev.type === RES.buildLogLine) {
      const text = fieldString(ev, 0);
      if (text !== undefined) {
        nix.onLog?.(text);
        book.line(ev.id, stripAnsi(text));
      }
    }
  };
  const r = await nixRun("nix-store", args, { timeoutMs: 4 * 3600_000, ...nix, onLog: onLine });
  await tracker.settle(start);
  const plain = { ...r, stderr: messages.join("\n") };
  for (const j of todo) {
    if (out.has(j.host)) continue;
    const others = new Set(todo.filter((x) => x.drvPath !== j.drvPath).map((x) => x.drvPath));
    const error = buildError(j, messages, plain, failedBuildDetail(j, messages, book, others));
    const timeMs = Date.now() - start;
    out.set(j.host, { status: "failed", timeMs, error });
    onEvent?.({ host: j.host, state: "failed", timeMs, detail: error.message });
  }
  return out;
}

/**
 * The error of one host: Nix's message naming its derivation (from 2.30 spread over lines:
 * `Cannot build 'D'.`, `Reason: …`, joined here), else Nix's last error.
 */
function buildError(j: RealiseJob, messages: readonly string[], r: RunResult, detail: string | undefined): OscdError {
  const mineFull = messages.filter((m) => m.includes(j.drvPath));
  const platform = mineFull.map(platformMismatch).find((p) => p !== undefined);
  if (platform) {
    return new OscdError("build-platform", `${j.host}: ${platform.line}`, { hint: "pass --builders with a remote builder for that system (Nix's distributed builds), or enable emulation (boot.binfmt.emulatedSystems)" });
  }
  const mine = mineFull.map(summariseNixMessage);
  const line = (mine.pop() ?? lastErrorLine(r.stderr)).replace(/^error:\s*/, "");
  const e = new NixCommandError("nix-build-failed", r, `building ${j.host}`, "Nix's message is above; the whole build log: `nix log <drv>`, or build again with -L");
  return line ? new OscdError("nix-build-failed", `building ${j.host} failed: ${line}`, { hint: e.hint, cause: e, detail }) : e;
}
