import { access, stat } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../core/exec.js";

/**
 * Switch inhibitors (NixOS `system.switch.inhibitors`): a toplevel that carries a
 * `switch-inhibitors` file has a `switch-to-configuration check` that fails when switching live
 * from the running system is unsafe (e.g. a changed systemd or kernel module ABI). Then the agent
 * installs the system for the next boot and marks a reboot as needed. A toplevel without the file
 * predates inhibitors: nothing to check.
 */
export async function switchInhibited(toplevel: string, timeoutMs = 120_000): Promise<string | undefined> {
  try {
    await access(join(toplevel, "switch-inhibitors"));
  } catch {
    return undefined;
  }
  const r = await run(join(toplevel, "bin", "switch-to-configuration"), ["check"], { timeoutMs });
  if (r.exitCode === 0) return undefined;
  return (r.stderr.trim().split("\n").pop() ?? `switch-to-configuration check exited ${r.exitCode}`).slice(0, 300);
}

/** Reboots where systemd runs; elsewhere (a container, a test host) says it cannot. */
export async function rebootNow(): Promise<{ rebooted: boolean; detail: string }> {
  const systemd = await stat("/run/systemd/system").then(
    () => true,
    () => false,
  );
  if (!systemd) return { rebooted: false, detail: "no systemd on this machine: reboot it yourself" };
  const r = await run("systemctl", ["reboot"], { timeoutMs: 60_000 });
  return r.exitCode === 0 ? { rebooted: true, detail: "systemctl reboot" } : { rebooted: false, detail: `systemctl reboot exited ${r.exitCode}: ${r.stderr.trim().split("\n").pop() ?? ""}` };
}
