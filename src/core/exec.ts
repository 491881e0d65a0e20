import { spawn } from "node:child_process";
import { commandLogLevel, logCommand, logCommandLine } from "./command-log.js";
import { CommandCancelledError, CommandTimeoutError, OscdError, ToolMissingError } from "./errors.js";

export interface RunOptions {
  /** Kill the command after this many milliseconds. Every call has one. */
  timeoutMs: number;
  cwd?: string;
  /** Added to the inherited environment (or replacing it when `extendEnv` is false); undefined removes a variable. */
  env?: Record<string, string | undefined>;
  extendEnv?: boolean;
  input?: string | Buffer;
  /** Hint shown when the program itself is missing. */
  missingHint?: string;
  /** Called with each stderr line as it arrives (progress). */
  onStderrLine?: (line: string) => void;
  /**
   * Cancels the command: its whole process group gets SIGTERM (SIGKILL after a grace period)
   * and the call rejects with a CommandCancelledError. An already aborted signal starts nothing.
   */
  signal?: AbortSignal;
  /**
   * Open descriptors of this process the child gets as 3, 4, …: inherited by it and by what it
   * starts (not close-on-exec there), and still this process's to close.
   */
  passFds?: readonly number[];
}

export interface RunResult {
  command: readonly string[];
  /** -1 when the program was ended by a signal (see `signal`). */
  exitCode: number;
  signal?: string;
  stdout: string;
  stderr: string;
}

const STDERR_TAIL_LINES = 20;
/** After the timeout's SIGTERM, a program that lingers gets SIGKILL this much later. */
const KILL_GRACE_MS = 2000;

export function stderrTail(stderr: string, lines = STDERR_TAIL_LINES): string {
  const all = stderr.trimEnd().split("\n");
  return all.slice(-lines).join("\n");
}

function environment(opts: RunOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = opts.extendEnv === false ? {} : { ...process.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** After the child exits, output still in flight gets this long before the pipes are cut. */
const DRAIN_MS = 200;

/** Signals the child's whole process group (it leads one: spawned detached). */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/**
 * Runs a program with an argument array (never a shell string). Resolves with the exit code
 * even when it is non-zero, so each adapter can turn failures into its own typed errors;
 * rejects only when the program is missing or the timeout hits.
 *
 * The child leads its own process group, so a timeout ends everything it started (a health
 * command's `sh -c 'sleep …'` included), not only the direct child; and the call settles when
 * the child exits, because a descendant that keeps the pipes open would otherwise hold the
 * caller (and the host lock) until it ends by itself.
 *
 * Built on node:child_process rather than execa: execa's import alone cost ~200 ms of every
 * oscd start (measured with bench/activate.ts), and this needs only spawn, a timeout and
 * line-wise stderr.
 */
export function run(file: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  if (commandLogLevel() === 0) return runCommand(file, args, opts);
  // -v: every command with its outcome and duration (core/command-log.ts masks secrets).
  const started = Date.now();
  const lineOpts = commandLogLevel() >= 2 ? { ...opts, onStderrLine: (l: string) => (logCommandLine(file, l), opts.onStderrLine?.(l)) } : opts;
  return runCommand(file, args, lineOpts).then(
    (r) => {
      logCommand(r.command, Date.now() - started, r.signal ? `signal ${r.signal}` : `exit ${r.exitCode}`, opts.cwd);
      return r;
    },
    (e: unknown) => {
      const why = e instanceof OscdError ? e.code : "failed";
      logCommand([file, ...args], Date.now() - started, why, opts.cwd);
      throw e;
    },
  );
}

function runCommand(file: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const command = [file, ...args];
  return new Promise<RunResult>((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new CommandCancelledError(command));
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: environment(opts),
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe", ...(opts.passFds ?? [])],
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let partial = "";
    let timedOut = false;
    let cancelled = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      killGroup(child.pid, "SIGTERM");
      // Kept after the child exits: a descendant ignoring SIGTERM still gets SIGKILL. Unref'd
      // so it never holds the process open by itself.
      killTimer = setTimeout(() => killGroup(child.pid, "SIGKILL"), KILL_GRACE_MS);
      killTimer.unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    const onAbort = () => {
      if (settled || timedOut || cancelled) return;
      cancelled = true;
      stop();
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout?.on("data", (d: Buffer) => out.push(d));
    child.stderr?.on("data", (d: Buffer) => {
      err.push(d);
      if (!opts.onStderrLine) return;
      partial += d.toString("utf8");
      let i: number;
      while ((i = partial.indexOf("\n")) >= 0) {
        opts.onStderrLine(partial.slice(0, i));
        partial = partial.slice(i + 1);
      }
    });
    if (opts.input !== undefined && child.stdin) {
      // A program that exits without reading its input must not crash us with EPIPE.
      child.stdin.on("error", () => undefined);
      child.stdin.end(opts.input);
    }
    child.once("error", (e: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (e.code === "ENOENT") reject(new ToolMissingError(file, opts.missingHint ?? `install ${file}`));
      else reject(new OscdError("spawn-failed", `cannot start ${file}: ${e.message}`, { cause: e }));
    });
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      if (drainTimer) clearTimeout(drainTimer);
      // Pipes a descendant still holds are cut: nothing after the child's exit is waited for.
      child.stdout?.destroy();
      child.stderr?.destroy();
      const stderr = Buffer.concat(err).toString("utf8");
      if (timedOut) return reject(new CommandTimeoutError(command, opts.timeoutMs, stderrTail(stderr)));
      if (cancelled) return reject(new CommandCancelledError(command));
      if (killTimer) clearTimeout(killTimer);
      if (opts.onStderrLine && partial) opts.onStderrLine(partial);
      resolve({ command, exitCode: code ?? -1, signal: signal ?? undefined, stdout: Buffer.concat(out).toString("utf8"), stderr });
    };
    child.once("exit", (code, signal) => {
      // Normally "close" follows at once with the last output; when a descendant holds the
      // pipes it never does, so settle after a short drain instead.
      drainTimer = setTimeout(() => finish(code, signal), timedOut || cancelled ? 0 : DRAIN_MS);
    });
    child.once("close", (code, signal) => finish(code, signal));
  });
}
