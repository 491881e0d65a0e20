import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { GuardError, UsageError } from "../core/errors.js";
import { DEFAULT_LAYOUT, type HostLayout } from "../activate/index.js";
import type { Operation } from "../fleet/index.js";

/**
 * The target side of a push deploy keeps one directory per deployment under
 * `/var/lib/oscd/deploy/<id>/`: the request the deployer sent, the status the detached
 * activation writes at every step, and the confirmation file a new SSH connection creates.
 * The deployer reconnects and reads the status, so the SSH session may die at any time.
 */
export interface TargetRequest {
  id: string;
  toplevel: string;
  mode: Operation;
  host?: string;
  release: { version?: string; commit?: string; ref?: string; tag?: string };
  allowDowngrade?: boolean;
  retryFailed?: boolean;
  force?: boolean;
  /** 0: no confirmation is awaited (boot, or a deployer that confirms nothing). */
  confirmTimeoutMs: number;
  /** machine.toml (substituters, trusted keys, health). */
  machineConfig: string;
}

export type TargetState = "started" | "activating" | "awaiting-confirm" | "committed" | "unchanged" | "dry-run" | "rolled-back" | "refused" | "failed";

export const FINAL_STATES: readonly TargetState[] = ["committed", "unchanged", "dry-run", "rolled-back", "refused", "failed"];

export interface TargetStatus {
  id: string;
  state: TargetState;
  /** The detached activation process and its kernel start time (a reused pid is not it). */
  pid?: number;
  startTime?: string;
  step?: string;
  detail?: string;
  /** ISO time by which a confirmation must arrive (awaiting-confirm). */
  confirmBy?: string;
  previousGeneration?: number;
  /** The release oscd recorded for the previous generation, when it made it. */
  previousVersion?: string;
  previousSystem?: string;
  generation?: number;
  version?: string;
  rebootNeeded?: boolean;
  error?: { code: string; message: string; exitCode: number };
  updatedAt: string;
}

const ID = /^[0-9]{17}-[0-9a-f]{8}$/;

/** Millisecond time first, so ids sort in the order deployments started. */
export function newDeploymentId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:.TZ]/g, "").slice(0, 17)}-${randomBytes(4).toString("hex")}`;
}

/** An id from the command line names a directory: anything but the generated form is refused. */
export function checkDeploymentId(id: string): string {
  if (!ID.test(id)) throw new UsageError(`${JSON.stringify(id.slice(0, 40))} is not a deployment id`, "ids look like 20261121093015123-0123abcd, as oscd deploy-target start prints them", "bad-deployment-id");
  return id;
}

export function deployDir(id: string, layout: HostLayout = DEFAULT_LAYOUT): string {
  return join(layout.stateDir, "deploy", checkDeploymentId(id));
}

export const targetFiles = (id: string, layout: HostLayout = DEFAULT_LAYOUT) => {
  const dir = deployDir(id, layout);
  return { dir, request: join(dir, "request.json"), status: join(dir, "status.json"), confirmed: join(dir, "confirmed"), rejected: join(dir, "rejected"), log: join(dir, "log") };
};

export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

export async function readStatus(id: string, layout: HostLayout = DEFAULT_LAYOUT): Promise<TargetStatus> {
  const s = await readJsonFile<TargetStatus>(targetFiles(id, layout).status);
  if (!s) throw new GuardError("no-such-deployment", `no deployment ${id} on this host`, "the id comes from oscd deploy-target start on this same host");
  return s;
}

/** Kernel start time of a process (field 22 of /proc/PID/stat), or undefined when it is gone. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

export async function runnerAlive(s: Pick<TargetStatus, "pid" | "startTime">): Promise<boolean> {
  return s.pid !== undefined && s.startTime !== undefined && (await processStartTime(s.pid)) === s.startTime;
}
