import type { RolloutPlan } from "../plan/index.js";
import type { RolloutView } from "../server/index.js";
import { putPlan, uploadRelease, type UploadedRelease } from "./releases.js";
import type { ServerClient } from "./request.js";
import { startRollout } from "./rollouts.js";

export interface ChannelInfo {
  channel: string;
  newest: { sequence: number; version: string; state: string } | null;
  servedToAll: { sequence: number; version: string } | null;
  rollout: { id: string; sequence: number; state: string } | null;
  plan: RolloutPlan | null;
  planSource: string | null;
}

export async function channelInfo(c: ServerClient, channel: string): Promise<ChannelInfo | undefined> {
  return (await c.request<{ channels: ChannelInfo[] }>("GET", "/api/v1/channels")).channels.find((x) => x.channel === channel);
}

export interface HandOff {
  release: UploadedRelease;
  /** Started here (`--rollout`). */
  rollout?: RolloutView;
  /** Neither `--rollout` nor `--immediate`: what the release waits for. */
  waiting?: ChannelInfo;
}

/**
 * `oscd publish --server`: the manifest becomes a release on the server, the channel's plan from
 * the published commit's oscd.toml goes with it, and the release then moves: to every host at
 * once (`immediate`), in a rollout (`rollout`: its waves, or `{}` for the channel's plan), or
 * not yet (the answer says what it waits for, so the caller can say how to move it).
 */
export async function handOff(c: ServerClient, manifestText: string, o: { plan?: RolloutPlan; planSource?: string; immediate?: boolean; rollout?: RolloutPlan; views?: readonly string[] }): Promise<HandOff> {
  const release = await uploadRelease(c, manifestText, { immediate: o.immediate, views: o.views });
  if (o.plan) await putPlan(c, release.channel, o.plan, o.planSource ?? "oscd publish");
  if (release.state === "complete") return { release };
  if (o.rollout) return { release, rollout: await startRollout(c, { channel: release.channel, sequence: release.sequence, ...o.rollout }) };
  return { release, waiting: await channelInfo(c, release.channel) };
}
