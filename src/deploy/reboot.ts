import { randomBytes } from "node:crypto";
import { OscdError } from "../core/errors.js";
import type { Remote } from "./remote.js";
import { commandLine, sshRun } from "./ssh.js";
import { elevatedScript } from "./sudo.js";

export type RebootPolicy = "needed" | "always";

const MARKER = "/run/oscd-deploy-boot";

/** What identifies one boot: the kernel's boot id, and a marker in /run (a tmpfs, empty after a boot). */
async function bootIdentity(r: Remote): Promise<{ id: string; booted?: string } | undefined> {
  const call = elevatedScript(r.elevation, `cat /proc/sys/kernel/random/boot_id; cat ${MARKER} 2>/dev/null || echo none; readlink /run/booted-system || true`);
  const res = await sshRun(r.target, r.ssh, call.remote, { input: call.input, fresh: true, timeoutMs: 30_000 }).catch(() => undefined);
  if (!res || res.exitCode !== 0) return undefined;
  const [boot, marker, booted] = res.stdout.split("\n").map((l) => l.trim());
  return { id: `${boot}/${marker}`, booted: booted || undefined };
}

/**
 * `--reboot`: marks this boot, runs the reboot command detached (so the SSH session ends
 * cleanly), waits for a new boot (new boot id, or the marker gone with /run) and checks that
 * the host booted the new system; a boot loader that fell back to an older entry is a failure.
 */
export async function rebootAndVerify(r: Remote, toplevel: string, rebootCommand: readonly string[], timeoutMs: number, say: (detail: string) => void): Promise<void> {
  const nonce = randomBytes(8).toString("hex");
  const script = `echo ${nonce} > ${MARKER}; setsid sh -c 'sleep 1; exec "$@"' sh ${commandLine(rebootCommand)} > /dev/null 2>&1 < /dev/null &`;
  const before = await bootIdentity(r);
  const call = elevatedScript(r.elevation, script);
  const res = await sshRun(r.target, r.ssh, call.remote, { input: call.input, fresh: true, timeoutMs: 30_000 });
  if (res.exitCode !== 0 && res.exitCode !== 255) throw new OscdError("reboot-failed", `${r.target.host}: could not start the reboot (exit ${res.exitCode})`);
  const was = before ? `${before.id.split("/")[0]}/${nonce}` : undefined;
  say("waiting for the new boot");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await new Promise((res) => setTimeout(res, 1000));
    const now = await bootIdentity(r);
    if (now && now.id !== was) {
      if (now.booted !== toplevel) throw new OscdError("booted-other", `${r.target.host} booted ${now.booted ?? "an unknown system"}, not the new system ${toplevel}`, { hint: "the boot loader fell back to an older entry; check the host's console, then oscd rollback or deploy again" });
      say(`booted ${toplevel}`);
      return;
    }
    if (Date.now() > deadline) throw new OscdError("reboot-timeout", `${r.target.host} did not come back from its reboot within ${Math.round(timeoutMs / 1000)}s`, { hint: "check the host's console" });
  }
}
