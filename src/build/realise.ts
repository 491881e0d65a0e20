import { OscdError } from "../core/errors.js";
import type { RunResult } from "../core/exec.js";
import { addRoot, lastErrorLine, nixRun, NixCommandError, type NixCallOptions } from "../nix/index.js";

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

interface LogEvent {
  action: string;
  id?: number;
  type?: number;
  level?: number;
  msg?: string;
  text?: string;
  fields?: unknown[];
}

const ACT_BUILD = 105;
const RES_BUILD_LOG_LINE = 101;
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, "g");

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
  const activity = new Map<number, string>();
  const finished = new Map<string, number>();
  const messages: string[] = [];
  const start = Date.now();

  const args = ["--realise", ...byDrv.keys(), "--keep-going", "--log-format", "internal-json"];
  if (builders !== undefined) args.push("--builders", builders);
  if (maxJobs !== undefined) args.push("--max-jobs", String(maxJobs));
  const onLine = (line: string) => {
    if (!line.startsWith("@nix ")) {
      messages.push(line);
      return;
    }
    let ev: LogEvent;
    try {
      ev = JSON.parse(line.slice(5)) as LogEvent;
    } catch {
      return;
    }
    if (ev.action === "msg" && typeof ev.msg === "string") {
      const text = ev.msg.replace(ANSI, "");
      if ((ev.level ?? 9) <= 1) messages.push(text);
      nix.onLog?.(text);
    } else if (ev.action === "start" && ev.type === ACT_BUILD && ev.id !== undefined) {
      const drv = String(ev.fields?.[0] ?? "");
      activity.set(ev.id, drv);
      for (const j of byDrv.get(drv) ?? []) onEvent?.({ host: j.host, state: "building", detail: typeof ev.fields?.[1] === "string" && ev.fields[1] ? `on ${ev.fields[1]}` : undefined });
    } else if (ev.action === "stop" && ev.id !== undefined) {
      const drv = activity.get(ev.id);
      if (drv !== undefined && byDrv.has(drv)) finished.set(drv, Date.now() - start);
    } else if (ev.action === "result" && ev.type === RES_BUILD_LOG_LINE && typeof ev.fields?.[0] === "string") {
      nix.onLog?.(ev.fields[0]);
    }
  };
  const r = await nixRun("nix-store", args, { timeoutMs: 4 * 3600_000, ...nix, onLog: onLine });
  const stillMissing = await invalidPaths(todo.map((j) => j.outPath), nix);
  const plain = { ...r, stderr: messages.join("\n") };
  for (const j of todo) {
    const timeMs = finished.get(j.drvPath) ?? Date.now() - start;
    if (!stillMissing.has(j.outPath)) {
      out.set(j.host, { status: "built", timeMs });
      onEvent?.({ host: j.host, state: "built", timeMs });
      continue;
    }
    const error = buildError(j, messages, plain);
    out.set(j.host, { status: "failed", timeMs, error });
    onEvent?.({ host: j.host, state: "failed", timeMs, detail: error.message });
  }
  return out;
}

/** The error of one host: Nix's message naming its derivation, else Nix's last error. */
function buildError(j: RealiseJob, messages: readonly string[], r: RunResult): OscdError {
  const mine = messages.filter((m) => m.includes(j.drvPath)).map((m) => m.split("\n")[0] ?? m);
  const line = (mine.pop() ?? lastErrorLine(r.stderr)).replace(/^error:\s*/, "");
  if (/is required to build .* but I am a/.test(line)) {
    return new OscdError("build-platform", `${j.host}: ${line}`, { hint: "pass --builders with a remote builder for that system (Nix's distributed builds), or enable emulation (boot.binfmt.emulatedSystems)" });
  }
  const e = new NixCommandError("nix-build-failed", r, `building ${j.host}`, "read the build log with `nix log <drv>`; the error line above is Nix's own");
  return line ? new OscdError("nix-build-failed", `building ${j.host} failed: ${line}`, { hint: e.hint, cause: e }) : e;
}
