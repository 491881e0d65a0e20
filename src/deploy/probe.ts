import { commandLine, lastLine, sshRun, SshError, type SshSettings, type SshTarget } from "./ssh.js";
import { elevatedScript, SUDO_NEEDS_PASSWORD, SUDO_REFUSED, type Elevation } from "./sudo.js";
import { OscdError } from "../core/errors.js";

/** What the deployer learns about a host before building anything. */
export interface HostFacts {
  bootId: string;
  currentSystem?: string;
  /** oscd runs on the host (magic rollback, guards); without it the bare steps are used. */
  oscd: boolean;
  generation?: number;
  version?: string;
}

const MARK = "oscd-probe:";

/**
 * `sudo -n` on the host wants a password: the deployer asks for it (once per deploy) and
 * probes again with it. Not a failure by itself.
 */
export class SudoPasswordNeeded extends OscdError {
  constructor(t: SshTarget) {
    super("sudo-refused", `${t.host}: sudo asks ${t.user} for a password and none was given`, {
      hint: "run oscd deploy on a terminal to be asked for it, or pass --sudo-password-file (or OSCD_SUDO_PASSWORD_FILE)",
      exitCode: 3,
    });
  }
}

/**
 * One SSH round trip per host (colmena #227: reachability before building): boot id, running
 * system, and whether oscd is installed (run as root: through sudo for other users, which
 * also proves the sudo password). With `{ kind: "sudo" }` and no password this is `sudo -n`:
 * a host whose sudo wants a password answers SudoPasswordNeeded, and nothing was sent to it.
 */
export async function probeHost(t: SshTarget, s: SshSettings, e: Elevation, remoteOscd: readonly string[]): Promise<HostFacts> {
  const script = [
    `echo ${MARK}boot=$(cat /proc/sys/kernel/random/boot_id)`,
    `echo ${MARK}current=$(readlink /run/current-system || true)`,
    // The command resolves and every file it names exists: no Node start (~100 ms of CPU per
    // host) to learn it. An install that is there but broken fails at the start, named.
    `installed() { command -v "$1" > /dev/null 2>&1 || return 1; for w in "$@"; do case $w in /*) [ -e "$w" ] || return 1;; esac; done; }`,
    `if installed ${commandLine(remoteOscd)}; then echo ${MARK}oscd; else echo ${MARK}no-oscd; fi`,
  ].join("\n");
  const call = elevatedScript(e, script);
  const r = await sshRun(t, s, call.remote, { input: call.input, timeoutMs: 60_000 });
  if (r.exitCode === 255) throw new SshError(t.host, r, "unreachable");
  if (r.exitCode !== 0) {
    if (e.kind === "sudo" && e.password === undefined && SUDO_NEEDS_PASSWORD.test(r.stderr)) throw new SudoPasswordNeeded(t);
    if (e.kind === "sudo" && SUDO_REFUSED.test(r.stderr)) {
      throw new OscdError("sudo-refused", `${t.host}: sudo refused ${t.user}: ${lastLine(r.stderr)}`, { hint: "check the sudo password and that the user may run commands as root", exitCode: 3 });
    }
    throw new OscdError("probe-failed", `${t.host}: probing the host failed (exit ${r.exitCode}): ${lastLine(r.stderr)}`);
  }
  const lines = r.stdout.split("\n");
  const value = (k: string) => lines.find((l) => l.startsWith(`${MARK}${k}=`))?.slice(MARK.length + k.length + 1).trim();
  const oscd = lines.includes(`${MARK}oscd`);
  // The previous generation and its release come with the activation's status.
  const facts: HostFacts = { bootId: value("boot") ?? "", currentSystem: value("current") || undefined, oscd };
  return facts;
}
