import { z } from "zod";
import { parseDuration, parseWaves, type RolloutPlan } from "../plan/index.js";

function refineWith<T>(parse: (v: string) => T) {
  return (v: string, ctx: z.RefinementCtx) => {
    try {
      parse(v);
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: e instanceof Error ? e.message : String(e) });
    }
  };
}
const duration = (what: string, max: number) => z.union([z.number().int().min(0).max(max), z.string().superRefine(refineWith((v) => parseDuration(v, what, max)))]);

/** `[channels.<name>.rollout]` in oscd.toml: the channel's plan, used when a rollout names none. */
export const channelRolloutSchema = z
  .object({
    waves: z.string().superRefine(refineWith(parseWaves)).default("all"),
    bake: duration("bake", 7 * 86_400).default("5m"),
    maxFailures: z.number().int().min(0).max(1_000_000).default(0),
    waveTimeout: duration("waveTimeout", 30 * 86_400).default("1h"),
  })
  .strict();
export type ChannelRollout = z.infer<typeof channelRolloutSchema>;

/** The plan a `[channels.<name>.rollout]` table means. */
export function planOf(r: ChannelRollout): RolloutPlan {
  const secs = (v: number | string, what: string, max: number) => (typeof v === "number" ? v : parseDuration(v, what, max));
  return { ...parseWaves(r.waves), bakeSeconds: secs(r.bake, "bake", 7 * 86_400), maxFailures: r.maxFailures, waveTimeoutSeconds: secs(r.waveTimeout, "waveTimeout", 30 * 86_400) };
}
