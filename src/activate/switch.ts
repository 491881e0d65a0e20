import { closeSync } from "node:fs";
import { OscdError } from "../core/errors.js";
import { run } from "../core/exec.js";
import type { Operation } from "../fleet/index.js";
import { ensureHold, openHold, waitForSwitchToEnd } from "./switch-hold.js";
import { switchCommand, switchUnitName, systemdRuns, unitLogTail } from "./transient-unit.js";

export class SwitchFailedError extends OscdError {
  constructor(toplevel: string, action: string, exitStatus: number, tail: string) {
    super("switch-failed", `switch-to-configuration ${action} of ${toplevel} exited ${exitStatus}${tail ? `: ${tail}` : ""}`, {
      hint: "see the unit logs on the host (journalctl -b) for what failed",
    });
  }
}

export const DEFAULT_SWITCH_TIMEOUT_MS = 10 * 60_000;

/**
 * Runs `<toplevel>/bin/switch-to-configuration ACTION`: in a transient systemd unit where
 * systemd runs (transient-unit.ts), else as a child in its own session. Any non-zero exit
 * fails, including NixOS's exit 4 ("activated, but some units failed").
 *
 * The switch holds `hold` (switch-hold.ts) for as long as it and what it starts live, so no
 * second switch starts meanwhile, even when the caller is killed; one still running (a switch
 * whose caller died, or the stragglers of one that timed out) is waited for first.
 */
export async function switchTo(
  toplevel: string,
  action: Operation,
  hold: string,
  opts: { timeoutMs?: number; onLine?: (line: string) => void; systemd?: boolean } = {},
): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_SWITCH_TIMEOUT_MS;
  const unit = (opts.systemd ?? (await systemdRuns())) ? switchUnitName(action) : undefined;
  const { file, args } = switchCommand(toplevel, action, unit);
  await ensureHold(hold);
  await waitForSwitchToEnd(hold, { timeoutMs, log: opts.onLine });
  if (unit) opts.onLine?.(`in transient unit ${unit} (journalctl -u ${unit})`);
  const fd = openHold(hold);
  let running: ReturnType<typeof run>;
  try {
    running = run(file, args, {
      timeoutMs,
      onStderrLine: opts.onLine,
      missingHint: unit ? "systemd-run is missing although systemd runs" : `${toplevel} has no bin/switch-to-configuration: is it a NixOS system toplevel?`,
      env: { NIXOS_INSTALL_BOOTLOADER: undefined },
      passFds: [fd],
    });
  } finally {
    // The child has its own copy from the moment it exists; ours must not outlive this call.
    closeSync(fd);
  }
  const r = await running;
  if (r.exitCode !== 0) {
    const tail = unit ? await unitLogTail(unit) : (r.stderr.trim().split("\n").pop() ?? "");
    throw new SwitchFailedError(toplevel, action, r.exitCode, tail.slice(0, 300));
  }
  return r.stdout;
}
