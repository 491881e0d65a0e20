import { CommandFailedError, type ExitCode } from "../core/errors.js";
import { run, stderrTail, type RunResult } from "../core/exec.js";
import { nixErrorDetail } from "./error-detail.js";
import { globalArgs, impureArgs } from "./globals.js";
import { stripAnsi, summariseNixMessage } from "./messages.js";

/** Options every Nix adapter call accepts. */
export interface NixCallOptions {
  timeoutMs?: number;
  /** Extra environment, e.g. NIX_CONF_DIR for a test configuration or NIX_SSHOPTS. */
  env?: Record<string, string | undefined>;
  /** Nix settings passed as `--option NAME VALUE` (root is a trusted user, so they apply). */
  settings?: Record<string, string>;
  /** Each line Nix writes to stderr (build and copy progress). */
  onLog?: (line: string) => void;
  cwd?: string;
  /** Stops the Nix process (its whole process group) when aborted: see core/exec.ts. */
  signal?: AbortSignal;
}

export const NIX_MISSING_HINT = "install Nix (Debian: apt-get install nix-bin) and make sure nix, nix-store and nix-env are on PATH";
export const DEFAULT_TIMEOUT_MS = 10 * 60_000;
/** The new `nix` CLI is experimental in Nix 2.8; oscd enables what it uses per call. */
export const EXPERIMENTAL = ["--extra-experimental-features", "nix-command flakes"];

export class NixCommandError extends CommandFailedError {
  constructor(code: string, result: RunResult, what: string, hint?: string, exitCode?: ExitCode) {
    const tail = stderrTail(result.stderr, 20);
    // From all of stderr: the line naming the cause may lie above the last 20.
    const lastError = lastErrorLine(result.stderr);
    super(
      code,
      result.command,
      result.exitCode,
      tail,
      `${what} failed (${result.command[0]} exited ${result.exitCode})${lastError ? `: ${lastError}` : ""}`,
      hint ?? "Nix's full message is above; run with -v to see the commands oscd ran",
      nixErrorDetail(result.stderr),
    );
    if (exitCode !== undefined) Object.defineProperty(this, "exitCode", { value: exitCode });
  }
}

/**
 * Nix's summary lines that only say *that* something failed; the cause is an earlier `error:`
 * line (e.g. "hash mismatch importing path …" before "build of … failed"). From 2.30 a
 * dependency's failure reads "Cannot build 'D'. Reason: 1 dependency failed."
 */
const CONSEQUENCE = [
  /^error: build of .* failed$/,
  /^error: some substitutes for .* failed/,
  /^error: \d+ dependenc(y|ies) of derivation .* failed to build$/,
  /^error: Cannot build '.*'\. Reason: \d+ dependenc(y|ies) failed/,
];

/**
 * Nix's `error:` messages, each as one line: from 2.30 a message spans several lines (`Cannot
 * build 'D'.`, then an indented `Reason: …`), so the continuation lines that say why are joined
 * to it (log lines left out).
 */
function errorMessages(lines: readonly string[]): string[] {
  const out: string[] = [];
  let current: string[] | undefined;
  const flush = () => {
    if (current) out.push(`error: ${summariseNixMessage(current.join("\n"))}`);
    current = undefined;
  };
  for (const raw of lines) {
    const line = raw.trim();
    if (line.startsWith("error:")) {
      flush();
      current = [line];
    } else if (current && /^\s/.test(raw) && line !== "" && !/^(warning|trace|note):/.test(line)) {
      current.push(line);
    } else {
      flush();
    }
  }
  flush();
  return out;
}

/**
 * The most useful single line of Nix's stderr: its last `error:` message that names a cause
 * (not a summary such as "build of … failed"), else its last `error:` message, else its last line.
 */
export function lastErrorLine(stderr: string): string {
  const rawLines = stripAnsi(stderr).split("\n");
  const lines = rawLines.map((l) => l.trim()).filter(Boolean);
  const errs = errorMessages(rawLines);
  const causes = errs.filter((l) => !CONSEQUENCE.some((re) => re.test(l)));
  const pick = causes.length > 0 ? causes[causes.length - 1] : errs.length > 0 ? errs[errs.length - 1] : lines[lines.length - 1];
  return (pick ?? "").slice(0, 400);
}

function settingArgs(settings: Record<string, string> | undefined): string[] {
  if (!settings) return [];
  return Object.entries(settings).flatMap(([k, v]) => ["--option", k, v]);
}

export async function nixRun(program: string, args: readonly string[], opts: NixCallOptions = {}): Promise<RunResult> {
  // What the user asked of every Nix call (--show-trace, --option, -L, --impure: nix/globals.ts).
  const own = [...globalArgs(program, args), ...settingArgs(opts.settings)];
  const rest = args.length > 0 && impureArgs(program, args).length > 0 ? [args[0] as string, "--impure", ...args.slice(1)] : args;
  const full = program === "nix" ? [...EXPERIMENTAL, ...own, ...rest] : [...own, ...rest];
  return run(program, full, {
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    env: opts.env,
    cwd: opts.cwd,
    missingHint: NIX_MISSING_HINT,
    onStderrLine: opts.onLog,
    signal: opts.signal,
  });
}

/** Runs a Nix program and throws a NixCommandError with `code` when it exits non-zero. */
export async function nixOk(
  program: string,
  args: readonly string[],
  opts: NixCallOptions,
  code: string,
  what: string,
  hint?: (r: RunResult) => string | undefined,
): Promise<RunResult> {
  const r = await nixRun(program, args, opts);
  if (r.exitCode !== 0) throw new NixCommandError(code, r, what, hint?.(r));
  return r;
}
