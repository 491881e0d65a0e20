import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { dirname } from "node:path";
import { mkdir, open } from "node:fs/promises";
import { GuardError, OscdError } from "../../core/errors.js";
import { pathExists } from "../../core/fs.js";
import { DEFAULT_LAYOUT, type HostLayout } from "../../activate/index.js";
import { assertStorePath } from "../../nix/index.js";
import { writeFileAtomic, writeJsonAtomic } from "../../core/atomic.js";
import { newDeploymentId, readStatus, writeStatus, targetFiles, FINAL_STATES, type TargetRequest, type TargetStatus } from "./state.js";
import { settledStatus } from "./run.js";

/**
 * Starts an activation that outlives the SSH session that asked for it: the request is
 * written to the deployment's directory, then `oscd deploy-target run ID` starts in a
 * transient systemd unit where systemd runs (as nixos-rebuild does), otherwise in a session
 * and process group of its own with its output in a log file, so a hangup, a dropped
 * connection or a switch that restarts sshd cannot stop it half-way.
 */
export async function startTargetDeployment(req: Omit<TargetRequest, "id">, oscd: { node: string; script: string }, layout: HostLayout = DEFAULT_LAYOUT, givenId?: string): Promise<string> {
  assertStorePath(req.toplevel);
  // The deployer may choose the id, so it can follow a start whose answer a dropped connection lost.
  const id = givenId ?? newDeploymentId();
  const f = targetFiles(id, layout);
  await mkdir(dirname(f.dir), { recursive: true, mode: 0o700 });
  await mkdir(f.dir, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    throw e.code === "EEXIST" ? new GuardError("deployment-exists", `deployment ${id} already exists on this host`, "each start needs a new id") : e;
  });
  await writeJsonAtomic(f.request, { ...req, id }, 0o600);
  await writeStatus(f.status, { id, state: "started", updatedAt: new Date().toISOString() });
  const argv = [oscd.node, oscd.script, "deploy-target", "run", id];
  if (await pathExists("/run/systemd/system")) {
    const unit = `oscd-deploy-${id}`;
    const r = await new Promise<number>((resolve, reject) => {
      const child = spawn("systemd-run", [`--unit=${unit}`, "--collect", "--quiet", "--service-type=exec", `--setenv=PATH=${process.env.PATH ?? "/run/current-system/sw/bin"}`, "--", ...argv], { stdio: "ignore" });
      child.on("error", reject);
      child.on("exit", (code) => resolve(code ?? 1));
    });
    if (r !== 0) throw new OscdError("detach-failed", `systemd-run could not start unit ${unit} (exit ${r})`, { hint: "check journalctl for the unit; the activation did not start" });
    return id;
  }
  const log = await open(f.log, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
  try {
    const child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ["ignore", log.fd, log.fd] });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
    child.unref();
  } finally {
    await log.close();
  }
  return id;
}

/**
 * `oscd deploy-target confirm ID`, run by the deployer over a *new* SSH connection: proof that
 * the host still takes connections after the switch. Creating the file is the whole act; a
 * deployment that already ended (rolled back after its timeout) cannot be confirmed.
 */
export async function confirmTargetDeployment(id: string, layout: HostLayout = DEFAULT_LAYOUT): Promise<TargetStatus> {
  const s = await settledStatus(id, layout);
  if (FINAL_STATES.includes(s.state)) {
    throw new GuardError("confirm-too-late", `deployment ${id} already ended as ${s.state}${s.error ? `: ${s.error.message}` : ""}`, "deploy again; a rolled-back host runs its previous system");
  }
  const h = await open(targetFiles(id, layout).confirmed, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  await h.sync();
  await h.close();
  return readStatus(id, layout);
}

/**
 * `oscd deploy-target reject ID`: the deployer's own checks (HTTP probes) failed, so the
 * waiting engine rolls back now instead of at its deadline.
 */
export async function rejectTargetDeployment(id: string, reason: string, layout: HostLayout = DEFAULT_LAYOUT): Promise<TargetStatus> {
  const s = await settledStatus(id, layout);
  if (FINAL_STATES.includes(s.state)) return s;
  await writeFileAtomic(targetFiles(id, layout).rejected, reason.replace(/[^\x20-\x7e]/g, "?").slice(0, 300), 0o600);
  return readStatus(id, layout);
}

/**
 * Status lines for the deployer, each time the status changes, until a final state (or
 * `awaiting-confirm` when asked to stop there) or until `maxMs`.
 */
export async function followTargetDeployment(id: string, opts: { untilAwaitingConfirm?: boolean; maxMs?: number; pollMs?: number; onStatus: (s: TargetStatus) => void }, layout: HostLayout = DEFAULT_LAYOUT): Promise<TargetStatus> {
  const end = Date.now() + (opts.maxMs ?? 3_600_000);
  let last = "";
  for (;;) {
    const s = await settledStatus(id, layout);
    const key = `${s.state}|${s.updatedAt}`;
    if (key !== last) {
      last = key;
      opts.onStatus(s);
    }
    if (FINAL_STATES.includes(s.state) || (opts.untilAwaitingConfirm && s.state === "awaiting-confirm") || Date.now() > end) return s;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 50));
  }
}
