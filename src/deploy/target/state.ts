import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { GuardError, OscdError, UsageError } from "../../core/errors.js";
import { writeFileAtomic } from "../../core/atomic.js";
import { DEFAULT_LAYOUT, type HostLayout } from "../../activate/index.js";
import { hostNameSchema, operationSchema } from "../../fleet/index.js";
import { assertStorePath } from "../../nix/index.js";

/**
 * The target side of a push deploy keeps one directory per deployment under
 * `/var/lib/oscd/deploy/<id>/`: the request the deployer sent, the status the detached
 * activation writes at every step, and the confirmation file a new SSH connection creates.
 * The deployer reconnects and reads the status, so the SSH session may die at any time.
 */
const ID = /^[0-9]{17}-[0-9a-f]{8}$/;

/** Where the deployer's start script puts deployments on a host (the engine's state directory). */
export const HOST_DEPLOY_DIR = join(DEFAULT_LAYOUT.stateDir, "deploy");

const releaseText = z.string().max(200).regex(/^[\x20-\x7e]*$/, "printable ASCII only");

/**
 * What the deployer asks for. It arrives as a file the start script wrote from the SSH
 * session's input, so the runner checks every field before acting on it.
 */
export const targetRequestSchema = z
  .object({
    id: z.string().regex(ID, "not a deployment id"),
    toplevel: z.string().superRefine((v, ctx) => {
      try {
        assertStorePath(v);
      } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: "not a store path" });
      }
    }),
    mode: operationSchema,
    host: hostNameSchema.optional(),
    release: z.object({ version: releaseText.optional(), commit: releaseText.optional(), ref: releaseText.optional(), tag: releaseText.optional() }).strict(),
    allowDowngrade: z.boolean().optional(),
    retryFailed: z.boolean().optional(),
    force: z.boolean().optional(),
    /** 0: no confirmation is awaited (boot, or a deployer that confirms nothing). */
    confirmTimeoutMs: z.number().int().min(0).max(86_400_000),
    /** machine.toml (substituters, trusted keys, health); default /etc/oscd/machine.toml. */
    machineConfig: z.string().startsWith("/").optional(),
  })
  .strict();

export type TargetRequest = z.infer<typeof targetRequestSchema>;

/**
 * What is wrong with a field, in words that quote none of the request: zod's own messages
 * for unknown keys and enum values repeat what they were given, and a request may hold
 * anything that reached the start script's input.
 */
function issueText(i: z.ZodIssue): string {
  switch (i.code) {
    case "unrecognized_keys":
      return `${i.keys.length} unknown field(s)`;
    case "invalid_enum_value":
      return `not one of ${i.options.join(", ")}`;
    case "invalid_type":
      return `expected ${i.expected}, got ${i.received}`;
    case "invalid_literal":
      return "not the expected value";
    default:
      return i.message;
  }
}

/** The request of deployment `id`, checked; a request that is not what the deployer sends is refused. */
export function parseTargetRequest(id: string, raw: unknown): TargetRequest {
  const r = targetRequestSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new GuardError("bad-deploy-request", `deployment ${id}: the request is refused: ${i ? `${i.path.join(".") || "request"}: ${issueText(i)}` : "malformed"}`, "start deployments with oscd deploy or oscd deploy-target start");
  }
  if (r.data.id !== id) throw new GuardError("bad-deploy-request", `deployment ${id}: the request names deployment ${r.data.id}`, "start deployments with oscd deploy or oscd deploy-target start");
  return r.data;
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

/** A JSON file of a deployment; one that is not JSON is an error that quotes none of it. */
export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new OscdError("deploy-state-corrupt", `${path} is not JSON (${text.length} characters, not shown)`, { hint: "the deployment's files on the host were changed or cut short; deploy again (a new deployment gets a new directory)" });
  }
}

/**
 * The status file is one JSON line, replaced atomically: the deployer's shell scripts read it
 * with one `read` and print it as one status line.
 */
export async function writeStatus(path: string, s: TargetStatus): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(s) + "\n", 0o600);
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
