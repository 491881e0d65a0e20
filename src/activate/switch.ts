import { join } from "node:path";
import { OscdError } from "../core/errors.js";
import { run } from "../core/exec.js";
import type { Operation } from "../fleet/index.js";

export class SwitchFailedError extends OscdError {
  constructor(toplevel: string, action: string, exitStatus: number, tail: string) {
    super("switch-failed", `switch-to-configuration ${action} of ${toplevel} exited ${exitStatus}${tail ? `: ${tail}` : ""}`, {
      hint: "see the unit logs on the host (journalctl -b) for what failed",
    });
  }
}

export const DEFAULT_SWITCH_TIMEOUT_MS = 10 * 60_000;

/**
 * Runs `<toplevel>/bin/switch-to-configuration ACTION`. Any non-zero exit fails, including
 * NixOS's exit 4 ("activated, but some units failed").
 */
export async function switchTo(toplevel: string, action: Operation, opts: { timeoutMs?: number; onLine?: (line: string) => void } = {}): Promise<string> {
  const r = await run(join(toplevel, "bin", "switch-to-configuration"), [action], {
    timeoutMs: opts.timeoutMs ?? DEFAULT_SWITCH_TIMEOUT_MS,
    onStderrLine: opts.onLine,
    missingHint: `${toplevel} has no bin/switch-to-configuration: is it a NixOS system toplevel?`,
    env: { NIXOS_INSTALL_BOOTLOADER: undefined },
  });
  if (r.exitCode !== 0) {
    const tail = (r.stderr.trim().split("\n").pop() ?? "").slice(0, 300);
    throw new SwitchFailedError(toplevel, action, r.exitCode, tail);
  }
  return r.stdout;
}
