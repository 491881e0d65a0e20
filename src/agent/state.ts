import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeStateFileSync } from "../core/atomic.js";
import { z } from "zod";
import { OscdError } from "../core/errors.js";
import { historyReleases, type HostLayout } from "../activate/index.js";

/**
 * What the agent must remember across restarts: per manifest channel the highest sequence it
 * accepted (written *before* activation, so a crash cannot reopen the door to a replay), and per
 * git remote the last deployed main commit (written after a deployment succeeded: the ancestry
 * guard compares against what runs). One JSON file, written atomically.
 */
export const agentStateSchema = z
  .object({
    /** `epoch`: the channel's sequence epoch of the trust root it was accepted under (src/trust). */
    manifest: z.record(z.object({ sequence: z.number().int().min(0), commit: z.string().optional(), toplevel: z.string().optional(), at: z.string(), epoch: z.string().optional() }).strict()).default({}),
    git: z.record(z.object({ main: z.string().optional(), testing: z.string().optional(), at: z.string() }).strict()).default({}),
    /**
     * The deployment in progress and how many times it was started. Set before the engine runs,
     * cleared when it returns: a value found at start means the agent died during it (a switch
     * that restarts the agent's own unit does that every time), so it is not retried forever.
     */
    inFlight: z.object({ toplevel: z.string(), attempts: z.number().int().min(1), at: z.string() }).strict().optional(),
  })
  .strict();
export type AgentState = z.infer<typeof agentStateSchema>;

export const stateFile = (stateDir: string) => join(stateDir, "agent", "state.json");

export class AgentStateError extends OscdError {
  constructor(path: string, detail: string) {
    super("agent-state-corrupt", `${path} is damaged: ${detail}`, {
      hint: "the agent refuses to guess what it applied last; restore the file from a backup, or remove it (the engine's deployment history then gives the floor)",
      exitCode: 2,
    });
  }
}

/** Attempts of one toplevel that died with the agent before it is no longer retried. */
export const MAX_INTERRUPTED_ATTEMPTS = 2;

/** Reads the state; a missing file is an empty state, a damaged one a refusal (never a silent reset). */
export async function readAgentState(stateDir: string): Promise<{ state: AgentState; existed: boolean }> {
  const path = stateFile(stateDir);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { state: agentStateSchema.parse({}), existed: false };
    throw new AgentStateError(path, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new AgentStateError(path, "not JSON");
  }
  const r = agentStateSchema.safeParse(raw);
  if (!r.success) throw new AgentStateError(path, r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  return { state: r.data, existed: true };
}

/**
 * `durable: false` for writes that only move `inFlight` (a killed agent still finds them; a
 * power loss costs at most one counted attempt); floors (sequences, main commits) are flushed.
 */
export async function writeAgentState(stateDir: string, state: AgentState, opts: { durable?: boolean } = {}): Promise<void> {
  writeStateFileSync(stateFile(stateDir), JSON.stringify(state, null, 2) + "\n", 0o600, opts);
}

/**
 * The sequence floor of a channel from the engine's own deployment history: the agent passes
 * `channel` and `sequence` in the release facts, and every journal keeps them. So losing the
 * agent's state file does not reopen a replay: the floor comes back from the engine's records.
 */
export async function historyFloor(layout: HostLayout, channel: string, epoch?: string): Promise<number> {
  let floor = 0;
  for (const rel of await historyReleases(layout, 1000)) {
    const r = rel as { channel?: unknown; sequence?: unknown; epoch?: unknown };
    // Only the channel's current sequence epoch holds it (a key rotation starts a new one).
    if (r.channel === channel && r.epoch === epoch && typeof r.sequence === "number" && r.sequence > floor) floor = r.sequence;
  }
  return floor;
}
