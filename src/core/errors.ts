/**
 * Every failure oscd reports is an OscdError: a stable `code` users can search for, a one-line
 * message saying what happened, a hint saying what to do, and the process exit code of
 * DESIGN.md (0 done, 1 failed, 2 usage/config, 3 refused by a guard, 4 rolled back).
 */
export type ExitCode = 0 | 1 | 2 | 3 | 4;

export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, rolledBack: 4 } as const;

export interface ErrorDetails {
  hint?: string;
  exitCode?: ExitCode;
  cause?: unknown;
  /**
   * A tool's own full message (Nix's error with its locations and trace), shown whole after
   * the one-line summary: the summary says what failed, the detail where to look.
   */
  detail?: string;
}

export class OscdError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;
  readonly detail: string | undefined;

  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = details.hint;
    this.exitCode = details.exitCode ?? EXIT.failed;
    this.detail = details.detail;
  }
}

/** Wrong flags, arguments or configuration: exit 2. */
export class UsageError extends OscdError {
  constructor(message: string, hint?: string, code = "usage") {
    super(code, message, { hint, exitCode: EXIT.usage });
  }
}

/** A guard refused the operation (signature, downgrade, wrong host, lock held): exit 3. */
export class GuardError extends OscdError {
  constructor(code: string, message: string, hint?: string) {
    super(code, message, { hint, exitCode: EXIT.refused });
  }
}

/** A required program is not installed. */
export class ToolMissingError extends OscdError {
  constructor(readonly tool: string, hint: string) {
    super("tool-missing", `${tool} is not installed or not on PATH`, { hint, exitCode: EXIT.usage });
  }
}

/** A command ran and exited non-zero. Carries the command and the tail of its stderr. */
export class CommandFailedError extends OscdError {
  constructor(
    code: string,
    readonly command: readonly string[],
    readonly exitStatus: number | undefined,
    readonly stderrTail: string,
    message: string,
    hint?: string,
    detail?: string,
  ) {
    super(code, message, { hint, detail });
  }
}

/** A command did not finish within its timeout and was killed. */
export class CommandTimeoutError extends OscdError {
  constructor(
    readonly command: readonly string[],
    readonly timeoutMs: number,
    readonly stderrTail: string,
  ) {
    super("command-timeout", `${command[0]} did not finish within ${formatMs(timeoutMs)} and was stopped: ${command.join(" ")}`, {
      hint: "check that the machine can reach what the command needs, or raise the timeout",
    });
  }
}

/** A command stopped on purpose by its caller (an AbortSignal): superseded work, not a failure. */
export class CommandCancelledError extends OscdError {
  constructor(readonly command: readonly string[]) {
    super("command-cancelled", `${command[0]} was stopped because its result is no longer wanted`, {
      hint: "nothing to do: newer work replaced it",
    });
  }
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10}s` : `${ms}ms`;
}

export function isOscdError(e: unknown): e is OscdError {
  return e instanceof OscdError;
}
