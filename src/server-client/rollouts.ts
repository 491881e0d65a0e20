import { UsageError } from "../core/errors.js";
import type { RolloutView } from "../server/index.js";
import type { RolloutPlan } from "../plan/index.js";
import { followChanges } from "./events.js";
import type { ServerClient } from "./request.js";

export type RolloutAction = "pause" | "resume" | "promote" | "abort";
export type { RolloutView };

/** Rollouts that still move or wait for an operator. */
export const ACTIVE_STATES = new Set(["running", "paused", "halted"]);
/** States `--watch` ends on. */
export const FINAL_STATES = new Set(["done", "aborted", "halted"]);

/** Newest first: the server's default 50, or `limit` (1 to 200). */
export async function listRollouts(c: ServerClient, limit?: number): Promise<RolloutView[]> {
  return (await c.request<{ rollouts: RolloutView[] }>("GET", limit === undefined ? "/api/v1/rollouts" : `/api/v1/rollouts?limit=${limit}`)).rollouts;
}

export async function getRollout(c: ServerClient, id: string): Promise<RolloutView> {
  return c.request<RolloutView>("GET", `/api/v1/rollouts/${encodeURIComponent(id)}`);
}

/**
 * The rollout an argument means: a full id, a unique prefix of one (as `rollout list` shows
 * them), or, with none, the channel's (or the only) rollout still active, else the newest.
 */
export async function findRollout(c: ServerClient, idOrPrefix: string | undefined, channel?: string): Promise<RolloutView> {
  if (idOrPrefix && /^[0-9a-f]{16}$/.test(idOrPrefix)) return getRollout(c, idOrPrefix);
  const all = (await listRollouts(c)).filter((r) => !channel || r.channel === channel);
  if (idOrPrefix) {
    if (!/^[0-9a-f]{1,16}$/.test(idOrPrefix)) throw new UsageError(`${JSON.stringify(idOrPrefix.slice(0, 40))} is not a rollout id`, "a rollout id is 16 hex digits, or its first few (`oscd rollout list`)", "rollout-unknown");
    const hits = all.filter((r) => r.id.startsWith(idOrPrefix));
    if (hits.length === 1) return hits[0] as RolloutView;
    throw new UsageError(hits.length === 0 ? `no rollout ${idOrPrefix}` : `${hits.length} rollouts start with ${idOrPrefix}`, "`oscd rollout list` shows the ids", "rollout-unknown");
  }
  const active = all.filter((r) => ACTIVE_STATES.has(r.state));
  if (active.length === 1) return active[0] as RolloutView;
  if (active.length > 1) throw new UsageError(`${active.length} rollouts are active (${active.map((r) => `${r.id.slice(0, 8)} on ${r.channel}`).join(", ")})`, "name one: `oscd rollout status ID`, or --channel NAME", "rollout-unknown");
  const newest = all[0];
  if (!newest) throw new UsageError(channel ? `channel ${channel} has no rollout yet` : "the server has no rollout yet", "start one: `oscd rollout start CHANNEL`", "rollout-unknown");
  return newest;
}

export interface StartRequest extends RolloutPlan {
  channel: string;
  sequence?: number;
}

export async function startRollout(c: ServerClient, req: StartRequest): Promise<RolloutView> {
  return c.request<RolloutView>("POST", "/api/v1/rollouts", { body: req });
}

export async function rolloutAction(c: ServerClient, id: string, action: RolloutAction): Promise<RolloutView> {
  return c.request<RolloutView>("POST", `/api/v1/rollouts/${encodeURIComponent(id)}/${action}`);
}

/**
 * Follows a rollout live: `onView` gets it at once and again whenever the server announces a
 * change (a wave started, a host fetched or reported, an operator acted), plus once a second
 * (bake countdowns move on their own). Resolves with the rollout in a final state (done,
 * aborted, halted), or when `signal` aborts.
 */
export async function watchRollout(c: ServerClient, id: string, onView: (r: RolloutView) => void, signal?: AbortSignal): Promise<RolloutView> {
  const stop = new AbortController();
  const outer = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  let latest = await getRollout(c, id);
  onView(latest);
  if (FINAL_STATES.has(latest.state)) return latest;
  let dirty = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const poke = () => {
    dirty = true;
    wake?.();
  };
  const events = followChanges(c, (t) => (t === "rollouts" || t === "hosts" || t === "channel" || t === "*" || t === "" ? poke() : undefined), outer, poke).catch((e: unknown) => {
    failure = e;
    poke();
  });
  try {
    while (!outer.aborted) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, 1000);
        wake = () => {
          clearTimeout(t);
          r();
        };
        if (dirty) wake();
      });
      wake = undefined;
      if (failure) throw failure;
      dirty = false;
      latest = await getRollout(c, id);
      onView(latest);
      if (FINAL_STATES.has(latest.state)) break;
    }
    return latest;
  } finally {
    stop.abort();
    await events;
  }
}
