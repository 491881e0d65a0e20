import { OscdError, UsageError } from "../core/errors.js";
import { run, type RunResult } from "../core/exec.js";
import { splitSshTarget } from "../fleet/index.js";

/** How the deployer reaches one host. */
export interface SshTarget {
  /** The host's name in the fleet. */
  host: string;
  /** `user@address` (an IPv6 address without brackets, as ssh takes it). */
  destination: string;
  user: string;
  port?: number;
}

export interface SshSettings {
  /** `-o` options from the command line (`IdentityFile=…`, `UserKnownHostsFile=…`). */
  options: string[];
  /** `yes`: unknown and changed host keys are refused; `accept-new`: unknown ones are recorded. */
  hostKeyChecking: "yes" | "accept-new";
  /** ControlMaster sockets: connections to one host are reused. */
  controlDir: string;
  connectTimeoutS: number;
}

/** `user@address[:port]` from the fleet file or defaults (`src/fleet/ssh-target.ts`); the port becomes `-p PORT`. */
export function parseSshTarget(host: string, spec: string | undefined): SshTarget {
  const text = spec ?? host;
  const parts = splitSshTarget(text);
  if ("error" in parts) throw new UsageError(`host ${host}: ssh target ${JSON.stringify(text.slice(0, 80))} is not user@address[:port]: ${parts.error}`, "set hosts.<name>.ssh in oscd.toml, e.g. ssh = \"root@10.0.0.5\" or \"deploy@[fd00::7]:2222\"", "bad-ssh-target");
  const user = parts.user ?? "root";
  return { host, destination: `${user}@${parts.address}`, user, port: parts.port };
}

/** One argument for a POSIX shell: ssh hands the remote side a command line, never an argv. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}

export function sshBaseArgs(t: SshTarget, s: SshSettings, fresh = false): string[] {
  const args = ["-o", "BatchMode=yes", "-o", `StrictHostKeyChecking=${s.hostKeyChecking}`, "-o", `ConnectTimeout=${s.connectTimeoutS}`, "-o", "ServerAliveInterval=2", "-o", "ServerAliveCountMax=4"];
  // A fresh connection is a new TCP connection and login: the proof magic rollback needs.
  if (fresh) args.push("-o", "ControlMaster=no", "-o", "ControlPath=none");
  else args.push("-o", "ControlMaster=auto", "-o", `ControlPath=${s.controlDir}/%C`, "-o", "ControlPersist=120");
  for (const o of s.options) args.push("-o", o);
  if (t.port !== undefined) args.push("-p", String(t.port));
  return args;
}

/**
 * The options Nix's own ssh gets (NIX_SSHOPTS). With `shared`, it rides on the host's
 * ControlMaster connection when one is open (the probe opened it): no second login per host.
 * Nix's `ssh://` store runs a master of its own (`-S`), so only `ssh-ng` shares ours.
 */
export function nixSshOpts(t: SshTarget, s: SshSettings, shared = false): string[] {
  // ServerAlive: a connection cut during the copy ends it in seconds, not at TCP's timeout.
  const opts = ["-o", "BatchMode=yes", "-o", `StrictHostKeyChecking=${s.hostKeyChecking}`, "-o", `ConnectTimeout=${s.connectTimeoutS}`, "-o", "ServerAliveInterval=2", "-o", "ServerAliveCountMax=4"];
  // ControlMaster=no: use the socket if it is there, never become a master Nix would leave behind.
  if (shared && !/\s/.test(s.controlDir)) opts.push("-o", "ControlMaster=no", "-o", `ControlPath=${s.controlDir}/%C`);
  for (const o of s.options) opts.push("-o", o);
  if (t.port !== undefined) opts.push("-p", String(t.port));
  return opts;
}

export interface RemoteCall {
  /** Text on the remote command's standard input (after the sudo password, when one is used). */
  input?: string;
  /** A new connection, not the shared ControlMaster one. */
  fresh?: boolean;
  timeoutMs?: number;
  onStderrLine?: (line: string) => void;
}

/** Runs a remote shell command line (already quoted) over SSH. Exit 255 is ssh's own failure. */
export async function sshRun(t: SshTarget, s: SshSettings, remote: string, call: RemoteCall = {}): Promise<RunResult> {
  return run("ssh", [...sshBaseArgs(t, s, call.fresh), t.destination, "--", remote], {
    timeoutMs: call.timeoutMs ?? 120_000,
    input: call.input,
    onStderrLine: call.onStderrLine,
    missingHint: "install OpenSSH's client (ssh)",
  });
}

/** Ends the ControlMaster connection to a target, if there is one. */
export async function closeMaster(t: SshTarget, s: SshSettings): Promise<void> {
  await run("ssh", [...sshBaseArgs(t, s), "-O", "exit", t.destination], { timeoutMs: 10_000 }).catch(() => undefined);
}

export class SshError extends OscdError {
  constructor(readonly host: string, r: RunResult, what: string) {
    const why = lastLine(r.stderr) || `ssh exited ${r.exitCode}`;
    const hostKey = /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|No .* host key is known/i.test(r.stderr);
    super(hostKey ? "ssh-host-key" : "ssh-unreachable", `${host}: ${what}: ${why}`, {
      hint: hostKey
        ? "the host's key is not the one known_hosts records (or none is recorded); check the host, then fix known_hosts or pass --accept-new-host-keys for hosts never seen"
        : "check that the host is up, runs sshd and accepts your key (ssh -v), and its ssh target in oscd.toml",
      exitCode: hostKey ? 3 : 1,
    });
  }
}

export function lastLine(s: string): string {
  const lines = s.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("{") && !/^Warning: Permanently added/.test(l));
  return (lines.pop() ?? "").replace(/[^\x20-\x7e]/g, "?").slice(0, 300);
}
