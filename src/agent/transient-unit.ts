import { stat } from "node:fs/promises";
import { run } from "../core/exec.js";

/**
 * Activation that outlives the agent (DESIGN.md): where systemd runs, switch-to-configuration
 * belongs in a transient unit of its own, so a switch that restarts the agent's unit (or sshd,
 * dbus, logind) cannot kill it half-way. The unit names start with `oscd-switch-`; a restarted
 * agent waits for such a unit to end before the engine's recovery reads the journal, so it
 * finishes or rolls back a switch that really ended, never one still running.
 *
 * `switchUnitCommand` is the argument list for running a switch that way; the engine's
 * switch step is where it is meant to be used (see ARCHITECTURE.md: not wired there yet).
 */
export const SWITCH_UNIT_PREFIX = "oscd-switch-";

export async function systemdRuns(): Promise<boolean> {
  return stat("/run/systemd/system").then(
    () => true,
    () => false,
  );
}

export function switchUnitCommand(deploymentId: string, toplevel: string, action: string): string[] {
  const unit = `${SWITCH_UNIT_PREFIX}${deploymentId.replace(/[^A-Za-z0-9_.-]/g, "_")}`;
  return ["systemd-run", `--unit=${unit}`, "--collect", "--wait", "--pipe", "--quiet", "--service-type=exec", "--property=KillMode=mixed", "--", `${toplevel}/bin/switch-to-configuration`, action];
}

/** Units of `systemctl list-units --plain --no-legend` output that are switch units still running. */
export function runningSwitchUnits(listUnits: string): string[] {
  return listUnits
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0]?.startsWith(SWITCH_UNIT_PREFIX) && (f[2] === "active" || f[2] === "activating" || f[2] === "deactivating"))
    .map((f) => f[0] as string);
}

/** Waits (up to `timeoutMs`) for running switch units to end; returns the ones still running. */
export async function waitForSwitchUnits(timeoutMs: number, log: (line: string) => void): Promise<string[]> {
  if (!(await systemdRuns())) return [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await run("systemctl", ["list-units", "--all", "--plain", "--no-legend", "--type=service", `${SWITCH_UNIT_PREFIX}*`], { timeoutMs: 30_000 });
    const running = r.exitCode === 0 ? runningSwitchUnits(r.stdout) : [];
    if (running.length === 0 || Date.now() > deadline) return running;
    log(`waiting for ${running.join(", ")} to finish before recovering`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}
