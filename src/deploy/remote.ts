import { OscdError } from "../core/errors.js";
import type { Operation } from "../fleet/index.js";
import { lastLine, sshRun, SshError, type SshSettings, type SshTarget } from "./ssh.js";
import { elevated, type Elevation } from "./sudo.js";
import { FINAL_STATES, HOST_DEPLOY_DIR, newDeploymentId, type TargetRequest, type TargetStatus } from "./target/index.js";
import { CONFIRM_SCRIPT, START_SCRIPT } from "./target-shell.js";

/** One host's remote side: how to reach it, as whom, and its oscd command. */
export interface Remote {
  target: SshTarget;
  ssh: SshSettings;
  elevation: Elevation;
  /** The oscd command on the host, as words (default `oscd`). */
  oscd: readonly string[];
}

export interface RemoteActivation {
  toplevel: string;
  mode: Operation;
  release: { version?: string; commit?: string; ref?: string; tag?: string };
  confirmTimeoutS: number;
  allowDowngrade?: boolean;
  force?: boolean;
}

/**
 * Starts the engine on the host, detached from this connection, and follows it on the same
 * connection until it awaits its confirmation or ends. Returns the id and the last status
 * seen (the connection may drop after the start: the caller follows again).
 */
export async function startRemote(r: Remote, a: RemoteActivation, onStatus: (s: TargetStatus) => void): Promise<{ id: string; last?: TargetStatus }> {
  // Chosen here: a connection lost before the host's answer still leaves an id to follow.
  const id = newDeploymentId();
  const request: Omit<TargetRequest, "machineConfig"> = {
    id,
    toplevel: a.toplevel,
    mode: a.mode,
    host: r.target.host,
    release: a.release,
    confirmTimeoutMs: a.confirmTimeoutS * 1000,
    ...(a.allowDowngrade ? { allowDowngrade: true } : {}),
    ...(a.force ? { force: true } : {}),
  };
  // A shell script, not a Node start: the runner it detaches is the host's only Node process.
  const call = elevated(r.elevation, ["sh", "-c", START_SCRIPT, "oscd-deploy-start", HOST_DEPLOY_DIR, id, ...r.oscd], `${JSON.stringify(request)}\n`);
  let answered = false;
  const { res, last } = await targetCall(r, call, { onStatus, onLine: (l) => (answered ||= l === JSON.stringify({ id })) });
  // Lost before or after the answer: the host may be activating; following by id tells.
  if ((answered && res.exitCode === 0) || res.exitCode === 255) return { id, last };
  throw new OscdError("remote-start-failed", `${r.target.host}: starting the deployment failed (exit ${res.exitCode}): ${lastLine(res.stderr)}`, { hint: "run the same oscd version on the host (the NixOS module installs it), or pass --remote-oscd" });
}

function parseStatus(line: string): TargetStatus | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const s = JSON.parse(line) as TargetStatus;
    return typeof s.state === "string" && typeof s.id === "string" ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs an `oscd deploy-target` call on the host with its status lines (JSON on stderr, so they
 * stream) passed on as they come; returns ssh's result and the last status seen.
 */
async function targetCall(
  r: Remote,
  call: { remote: string; input?: string },
  o: { fresh?: boolean; onStatus: (s: TargetStatus) => void; onLine?: (line: string) => void },
): Promise<{ res: Awaited<ReturnType<typeof sshRun>>; last: TargetStatus | undefined }> {
  let last: TargetStatus | undefined;
  const res = await sshRun(r.target, r.ssh, `${call.remote} 1>&2`, {
    input: call.input,
    fresh: o.fresh,
    timeoutMs: 3_600_000,
    onStderrLine: (l) => {
      o.onLine?.(l);
      const s = parseStatus(l);
      if (s) {
        last = s;
        o.onStatus(s);
      }
    },
  });
  return { res, last };
}

export interface FollowOptions {
  untilAwaitingConfirm?: boolean;
  onStatus: (s: TargetStatus) => void;
  /** Reconnect after a lost connection until then (ms since epoch). */
  reconnectUntil: () => number;
}

/**
 * Follows the deployment from the host's status file. A lost connection (ssh's exit 255) is
 * not the deployment's end: the activation runs on, detached; this reconnects, over new
 * connections, until `reconnectUntil`.
 */
export async function followRemote(r: Remote, id: string, o: FollowOptions): Promise<TargetStatus> {
  const argv = [...r.oscd, "deploy-target", "follow", id];
  if (o.untilAwaitingConfirm) argv.push("--until-awaiting-confirm");
  let last: TargetStatus | undefined;
  let fresh = false;
  for (;;) {
    const call = elevated(r.elevation, argv);
    const run = await targetCall(r, call, { fresh, onStatus: o.onStatus });
    const res = run.res;
    last = run.last ?? last;
    if (last && (FINAL_STATES.includes(last.state) || (o.untilAwaitingConfirm && last.state === "awaiting-confirm"))) return last;
    if (res.exitCode !== 255 && res.exitCode !== 0) throw new OscdError("remote-follow-failed", `${r.target.host}: following deployment ${id} failed (exit ${res.exitCode}): ${lastLine(res.stderr)}`);
    if (Date.now() > o.reconnectUntil()) throw new SshError(r.target.host, res, `lost the connection while following deployment ${id}`);
    fresh = true;
    await new Promise((res) => setTimeout(res, 1000));
  }
}

/**
 * Confirms over a NEW connection (not the shared ControlMaster one): that the host still takes
 * SSH logins after the switch is what magic rollback checks. Retried until `until`; then
 * follows the deployment to its end on that connection and returns the last status seen.
 */
export async function confirmRemote(r: Remote, id: string, until: number, onStatus: (s: TargetStatus) => void): Promise<TargetStatus | undefined> {
  // The shell creates the confirmation file when all is as expected; else Node's confirm decides.
  const call = elevated(r.elevation, ["sh", "-c", CONFIRM_SCRIPT, "oscd-deploy-confirm", HOST_DEPLOY_DIR, id, ...r.oscd]);
  for (;;) {
    const { res, last } = await targetCall(r, call, { fresh: true, onStatus });
    if (last !== undefined || res.exitCode === 0) return last;
    if (res.exitCode !== 255) throw new OscdError(/confirm-too-late/.test(res.stderr) ? "confirm-too-late" : "remote-confirm-failed", `${r.target.host}: confirming deployment ${id} failed: ${lastLine(res.stderr)}`);
    if (Date.now() > until) throw new SshError(r.target.host, res, `no new connection for the confirmation of deployment ${id}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

/** Asks the waiting engine to roll back now (the deployer's checks failed); follows it to the end. */
export async function rejectRemote(r: Remote, id: string, reason: string, onStatus: (s: TargetStatus) => void): Promise<TargetStatus | undefined> {
  const call = elevated(r.elevation, [...r.oscd, "deploy-target", "reject", id, "--reason", reason]);
  return (await targetCall(r, call, { fresh: true, onStatus })).last;
}

/**
 * Hosts without oscd: the bare steps of nixos-rebuild (profile, then switch-to-configuration),
 * in a session of their own so a dropped connection does not stop them. No guards, no health
 * checks, no rollback: the caller warns.
 */
export async function bareActivate(r: Remote, toplevel: string, mode: Operation): Promise<void> {
  const steps: string[] = ["set -e"];
  if (mode === "switch" || mode === "boot") steps.push(`nix-env -p /nix/var/nix/profiles/system --set "$0"`);
  steps.push(`exec "$0/bin/switch-to-configuration" "$1"`);
  const script = `exec setsid -w sh -c '${steps.join("; ")}' "$0" "$1"`;
  const call = elevated(r.elevation, ["sh", "-c", script, toplevel, mode]);
  const res = await sshRun(r.target, r.ssh, call.remote, { input: call.input, timeoutMs: 1_800_000 });
  if (res.exitCode === 255) throw new SshError(r.target.host, res, "bare activation");
  if (res.exitCode !== 0) throw new OscdError("switch-failed", `${r.target.host}: switch-to-configuration ${mode} exited ${res.exitCode}: ${lastLine(res.stderr)}`, { hint: "this host has no oscd, so nothing was rolled back; install oscd (the NixOS module) for rollbacks" });
}

