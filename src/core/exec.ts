import { execa } from "execa";
import { CommandTimeoutError, ToolMissingError } from "./errors.js";

export interface RunOptions {
  /** Kill the command after this many milliseconds. Every call has one. */
  timeoutMs: number;
  cwd?: string;
  /** Added to the inherited environment (or replacing it when `extendEnv` is false). */
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

export function stderrTail(stderr: string, lines = STDERR_TAIL_LINES): string {
  const all = stderr.trimEnd().split("\n");
  return all.slice(-lines).join("\n");
}

/**
 * Runs a program with an argument array (never a shell string). Resolves with the exit code
 * even when it is non-zero, so each adapter can turn failures into its own typed errors;
 * rejects only when the program is missing or the timeout hits.
 */
export async function run(file: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const command = [file, ...args];
  const sub = execa(file, args, {
    reject: false,
    timeout: opts.timeoutMs,
    forceKillAfterDelay: 2000,
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: opts.extendEnv ?? true,
    input: opts.input,
    stripFinalNewline: false,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (opts.onStderrLine && sub.stderr) {
    let buf = "";
    sub.stderr.on("data", (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        opts.onStderrLine?.(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  }
  const r = await sub;
  if (r.timedOut) throw new CommandTimeoutError(command, opts.timeoutMs, stderrTail(String(r.stderr ?? "")));
  const code = (r as { code?: string }).code;
  if (code === "ENOENT" || (r.exitCode === undefined && /ENOENT/.test(String(r.message)))) {
    throw new ToolMissingError(file, opts.missingHint ?? `install ${file}`);
  }
  return {
    command,
    exitCode: r.exitCode ?? -1,
    signal: r.signal ?? undefined,
    stdout: String(r.stdout ?? ""),
    stderr: String(r.stderr ?? ""),
  };
}
