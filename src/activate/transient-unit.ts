import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import { run } from "../core/exec.js";

/**
 * Activation that outlives its caller (DESIGN.md): where systemd runs, switch-to-configuration
 * runs in a transient unit of its own, so a switch that restarts the caller's unit (the agent,
 * sshd, dbus, logind) cannot kill it half-way. Its output goes to the journal, not to a pipe
 * of the caller's that may close under it. Elsewhere it runs in its own session and process
 * group (core/exec.ts). Unit names start with `oscd-switch-`: a restarted caller waits for
 * such units to end before recovery reads the journal (switch-hold.ts), so it finishes or rolls
 * back a switch that really ended, never one still running.
 */
export const SWITCH_UNIT_PREFIX = "oscd-switch-";

/** sd_booted(3): systemd is the init system. */
export async function systemdRuns(): Promise<boolean> {
  return stat("/run/systemd/system").then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** A fresh unit name for one switch: time-ordered, unique, and what systemd accepts. */
export function switchUnitName(action: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[^0-9]/g, "").slice(0, 14);
  return `${SWITCH_UNIT_PREFIX}${stamp}-${action.replace(/[^a-z-]/g, "")}-${randomBytes(4).toString("hex")}`;
}

/** The program and arguments of a switch: direct, or through systemd-run into `unit`. */
export function switchCommand(toplevel: string, action: string, unit: string | undefined): { file: string; args: string[] } {
  const stc = `${toplevel}/bin/switch-to-configuration`;
  if (unit === undefined) return { file: stc, args: [action] };
  return {
    file: "systemd-run",
    args: [`--unit=${unit}`, "--collect", "--wait", "--quiet", "--service-type=exec", "--property=KillMode=mixed", `--description=oscd: switch-to-configuration ${action}`, "--", stc, action],
  };
}

/** The last lines a switch unit wrote to the journal (for the error of a failed switch). */
export async function unitLogTail(unit: string, lines = 5): Promise<string> {
  const r = await run("journalctl", ["--no-pager", "-o", "cat", "-n", String(lines), "-u", unit], { timeoutMs: 15_000 }).catch(() => undefined);
  return r?.exitCode === 0 ? r.stdout.trim().split("\n").join(" | ") : "";
}

/** Units of `systemctl list-units --plain --no-legend` output that are switch units still running. */
export function runningSwitchUnits(listUnits: string): string[] {
  return listUnits
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0]?.startsWith(SWITCH_UNIT_PREFIX) && (f[2] === "active" || f[2] === "activating" || f[2] === "deactivating"))
    .map((f) => f[0] as string);
}
