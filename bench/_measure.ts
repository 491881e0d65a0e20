/**
 * Measures that hold on a shared machine: CPU time beside wall time, pairs run back to back
 * (oscd, then its baseline, then oscd…) whose ratios cancel the machine's drift, percentiles,
 * and a table of targets each bench prints with PASS or FAIL.
 *
 * CPU time of a command and everything it ran: this process's `cutime + cstime` (from
 * /proc/self/stat) before and after it, so it counts every process the command waited for
 * (its children, their children…) once each has been reaped, in clock ticks (10 ms).
 * Measure one command at a time: anything else this process reaps meanwhile counts too.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";

const TICK_MS = 10; // CLK_TCK is 100 on Linux everywhere oscd runs

/** Fields of /proc/PID/stat after the command name (which may hold spaces). */
function statFields(pid: number | "self"): string[] {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  return s.slice(s.lastIndexOf(")") + 2).split(" ");
}

/** CPU milliseconds of a live process itself (utime + stime), its threads included. */
export function processCpuMs(pid: number): number {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

/** CPU milliseconds of this process's reaped children so far (cutime + cstime). */
export function childrenCpuMs(): number {
  const f = statFields("self");
  return (Number(f[13]) + Number(f[14])) * TICK_MS;
}

/** VmRSS and VmHWM (peak) of a live process, in MiB. */
export function memoryMiB(pid: number): { rss: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

/** Open file descriptors of a process that are sockets (connections, listeners). */
export function socketCount(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

export interface Cost {
  wallMs: number;
  cpuMs: number;
}

/**
 * Wall and CPU time of `f`, which runs one command (or several in turn) and waits for it.
 * A non-zero exit is an error, not a fast result.
 */
export async function measure(f: () => Promise<{ exitCode: number | null; stderr: string } | void>): Promise<Cost> {
  const c0 = childrenCpuMs();
  const t0 = performance.now();
  const r = await f();
  const wallMs = performance.now() - t0;
  const cpuMs = childrenCpuMs() - c0;
  if (r && r.exitCode !== 0) throw new Error(r.stderr.slice(-2000));
  return { wallMs, cpuMs };
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i] as number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Median of a/b over pairs measured back to back (the drift of a shared machine cancels within a pair). */
export function medianOfRatios(a: readonly number[], b: readonly number[]): number {
  return median(a.map((x, i) => x / (b[i] as number)));
}

/** `rounds` interleaved pairs: `first` then `second`, alternating which goes first. */
export async function pairs(rounds: number, first: () => Promise<Cost>, second: () => Promise<Cost>): Promise<{ a: Cost[]; b: Cost[] }> {
  const a: Cost[] = [];
  const b: Cost[] = [];
  for (let i = 0; i < rounds; i++) {
    // Alternating the order keeps a warm cache or a just-freed core from favouring one side.
    if (i % 2 === 0) {
      a.push(await first());
      b.push(await second());
    } else {
      b.push(await second());
      a.push(await first());
    }
  }
  return { a, b };
}

/** Load average and CPU count now, printed beside every result. */
export function machine(): string {
  const [l1, l5, l15] = loadavg();
  return `load average ${l1?.toFixed(1)} ${l5?.toFixed(1)} ${l15?.toFixed(1)} on ${navigator.hardwareConcurrency} CPUs`;
}

/**
 * A bench's targets. `judgeable: false` marks a target that this run cannot judge (printed
 * with its value and "not judged": e.g. a wall-time ratio on a machine whose load changed
 * under it); `check` says PASS or FAIL.
 */
export class Targets {
  private readonly rows: { name: string; value: string; limit: string; verdict: "PASS" | "FAIL" | "not judged"; note: string }[] = [];

  check(name: string, value: number, op: "<=" | ">=", limit: number, opts: { unit?: string; digits?: number; judgeable?: boolean; note?: string } = {}): boolean {
    const d = opts.digits ?? 2;
    const unit = opts.unit ?? "";
    const ok = Number.isFinite(value) && (op === "<=" ? value <= limit : value >= limit);
    this.rows.push({ name, value: `${value.toFixed(d)}${unit}`, limit: `${op === "<=" ? "≤" : "≥"} ${limit}${unit}`, verdict: opts.judgeable === false ? "not judged" : ok ? "PASS" : "FAIL", note: opts.note ?? "" });
    return ok;
  }

  /** A yes/no condition (nothing lost, nothing twice). */
  require(name: string, ok: boolean, detail: string): boolean {
    this.rows.push({ name, value: detail, limit: "", verdict: ok ? "PASS" : "FAIL", note: "" });
    return ok;
  }

  get failed(): number {
    return this.rows.filter((r) => r.verdict === "FAIL").length;
  }

  /** Prints the table; lines start with `target` so bench/run.ts can gather them. */
  print(title: string): void {
    console.log(`\ntargets: ${title} (${machine()})`);
    const w = Math.max(...this.rows.map((r) => r.name.length));
    const v = Math.max(...this.rows.map((r) => r.value.length));
    for (const r of this.rows) console.log(`target  ${r.name.padEnd(w)}  ${r.value.padStart(v)}  ${r.limit.padEnd(10)}  ${r.verdict}${r.note ? `  (${r.note})` : ""}`);
  }
}
