import { spawn } from "node:child_process";
import { CommandTimeoutError, OscdError, ToolMissingError } from "./errors.js";

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

/**
 * Runs a program with an argument array (never a shell string). Resolves with the exit code
 * even when it is non-zero, so each adapter can turn failures into its own typed errors;
 * rejects only when the program is missing or the timeout hits.
 *
 * Built on node:child_process rather than execa: execa's import alone cost ~200 ms of every
 * oscd start (measured with bench/activate.ts), and this needs only spawn, a timeout and
 * line-wise stderr.
 */
export function run(file: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const command = [file, ...args];
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: environment(opts),
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let partial = "";
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGTERM");
      killTimer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
    }, opts.timeoutMs);
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
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      if (e.code === "ENOENT") reject(new ToolMissingError(file, opts.missingHint ?? `install ${file}`));
      else reject(new OscdError("spawn-failed", `cannot start ${file}: ${e.message}`, { cause: e }));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      const stderr = Buffer.concat(err).toString("utf8");
      if (timedOut) return reject(new CommandTimeoutError(command, opts.timeoutMs, stderrTail(stderr)));
      if (opts.onStderrLine && partial) opts.onStderrLine(partial);
      resolve({ command, exitCode: code ?? -1, signal: signal ?? undefined, stdout: Buffer.concat(out).toString("utf8"), stderr });
    });
  });
}
