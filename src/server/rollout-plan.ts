import { z } from "zod";
import { formatDuration, formatWaves, parseDuration, parseWaves, RolloutPlanError } from "../plan/index.js";
import { badRequest } from "./errors.js";
import { checkHostName, checkTag } from "./names.js";

/**
 * A rollout's waves, fixed when it is created: canary hosts first, then waves by host list, tag
 * or percentage (cumulative: `25` means "until a quarter of the hosts have it"), then whatever
 * hosts remain. Each host is in exactly one wave. Fixing the plan up front means a host added
 * mid-way or a tag edited later cannot jump the queue.
 */
const waveSpec = z.union([
  z.object({ hosts: z.array(z.string()).min(1).max(10_000) }).strict(),
  z.object({ tag: z.string() }).strict(),
  z.object({ percent: z.number().gt(0).max(100) }).strict(),
]);

/** Waves, canary and budgets: what a channel's plan holds and a rollout may override. */
export const planSchema = z
  .object({
    canary: z.array(z.string()).max(1000).optional(),
    waves: z.array(waveSpec).max(100).optional(),
    /** Seconds each wave must stay healthy before the next one starts. */
    bakeSeconds: z.number().min(0).max(7 * 86_400).optional(),
    /** A host that has not reported healthy or failed this long after its wave started counts as failed. */
    waveTimeoutSeconds: z.number().min(0).max(30 * 86_400).optional(),
    /** Failed hosts tolerated; one more halts the rollout. */
    maxFailures: z.number().int().min(0).max(1_000_000).optional(),
  })
  .strict();

export const rolloutSpecSchema = planSchema
  .extend({
    channel: z.string(),
    /** Default: the channel's newest release. */
    sequence: z.number().int().min(1).optional(),
    /**
     * The same as text, as people write it (the dashboard's form, `--waves`):
     * `canary=web1; @web; 50%; rest`, `10m`, `1h`.
     */
    wavesText: z.string().max(10_000).optional(),
    bake: z.string().max(40).optional(),
    waveTimeout: z.string().max(40).optional(),
  })
  .strict();

export type RolloutPlan = z.infer<typeof planSchema>;
export type RolloutSpec = z.infer<typeof rolloutSpecSchema>;
/** A spec with the plan's and the built-in defaults filled in. */
export type ResolvedSpec = Required<Pick<RolloutSpec, "bakeSeconds" | "waveTimeoutSeconds" | "maxFailures">> & Pick<RolloutSpec, "canary" | "waves">;
export interface PlannedWave {
  name: string;
  hosts: string[];
}

export const DEFAULT_BAKE_SECONDS = 300;
export const DEFAULT_WAVE_TIMEOUT_SECONDS = 3600;

function checkNames(p: RolloutPlan): void {
  for (const h of p.canary ?? []) checkHostName(h);
  for (const w of p.waves ?? []) {
    if ("hosts" in w) w.hosts.forEach(checkHostName);
    if ("tag" in w) checkTag(w.tag);
  }
}

function invalid(code: "bad-rollout" | "bad-plan", what: string, e: z.ZodError): never {
  const i = e.issues[0];
  throw badRequest(code, `the ${what} is not valid: ${i ? `${i.path.join(".") || "(top level)"}: ${i.message}` : "invalid"}`);
}

export function parseRolloutSpec(raw: unknown): RolloutSpec {
  const r = rolloutSpecSchema.safeParse(raw);
  if (!r.success) invalid("bad-rollout", "rollout", r.error);
  const { wavesText, bake, waveTimeout, ...spec } = r.data;
  try {
    if (wavesText !== undefined) {
      if (spec.canary !== undefined || spec.waves !== undefined) throw new RolloutPlanError("give the waves as wavesText or as canary/waves, not both");
      Object.assign(spec, parseWaves(wavesText));
    }
    if (bake !== undefined) spec.bakeSeconds = parseDuration(bake, "bake", 7 * 86_400);
    if (waveTimeout !== undefined) spec.waveTimeoutSeconds = parseDuration(waveTimeout, "waveTimeout", 30 * 86_400);
  } catch (e) {
    if (e instanceof RolloutPlanError) throw badRequest("bad-rollout", `the rollout is not valid: ${e.message}`);
    throw e;
  }
  checkNames(spec);
  return spec;
}

export function parsePlan(raw: unknown): RolloutPlan {
  const r = planSchema.safeParse(raw);
  if (!r.success) invalid("bad-plan", "plan", r.error);
  checkNames(r.data);
  return r.data;
}

/**
 * What a rollout runs with: its own waves when it names any, else the channel's plan's; each
 * budget from the rollout, else the plan, else the built-in default (5 min bake, 1 h wave
 * timeout, no failure tolerated).
 */
export function resolveSpec(spec: RolloutPlan, plan: RolloutPlan | undefined): ResolvedSpec {
  const own = spec.canary !== undefined || spec.waves !== undefined;
  const waves = own ? { canary: spec.canary, waves: spec.waves } : { canary: plan?.canary, waves: plan?.waves };
  return {
    ...waves,
    bakeSeconds: spec.bakeSeconds ?? plan?.bakeSeconds ?? DEFAULT_BAKE_SECONDS,
    waveTimeoutSeconds: spec.waveTimeoutSeconds ?? plan?.waveTimeoutSeconds ?? DEFAULT_WAVE_TIMEOUT_SECONDS,
    maxFailures: spec.maxFailures ?? plan?.maxFailures ?? 0,
  };
}

/** A plan as the dashboard's form shows it: text fields, the defaults where the plan says nothing. */
export function planForm(p: RolloutPlan | undefined): { waves: string; bake: string; maxFailures: number; waveTimeout: string } {
  return {
    waves: formatWaves(p ?? {}),
    bake: formatDuration(p?.bakeSeconds ?? DEFAULT_BAKE_SECONDS),
    maxFailures: p?.maxFailures ?? 0,
    waveTimeout: formatDuration(p?.waveTimeoutSeconds ?? DEFAULT_WAVE_TIMEOUT_SECONDS),
  };
}

export function planWaves(universe: readonly string[], tagsOf: (host: string) => readonly string[], spec: Pick<RolloutPlan, "canary" | "waves">): PlannedWave[] {
  const all = [...new Set(universe)].sort();
  const inRelease = new Set(all);
  const placed = new Set<string>();
  const waves: PlannedWave[] = [];
  const take = (name: string, hosts: Iterable<string>) => {
    const list = [...hosts].filter((h) => inRelease.has(h) && !placed.has(h));
    list.forEach((h) => placed.add(h));
    if (list.length > 0) waves.push({ name, hosts: list });
  };
  if (spec.canary?.length) {
    const unknown = spec.canary.filter((h) => !inRelease.has(h));
    if (unknown.length) throw badRequest("bad-rollout", `canary host(s) not in the release: ${unknown.slice(0, 5).join(", ")}`);
    take("canary", spec.canary);
  }
  (spec.waves ?? []).forEach((w, i) => {
    if ("hosts" in w) take(`wave ${i + 1}`, w.hosts);
    else if ("tag" in w) take(`wave ${i + 1} (@${w.tag})`, all.filter((h) => tagsOf(h).includes(w.tag)));
    else {
      const target = Math.ceil((w.percent / 100) * all.length);
      take(`wave ${i + 1} (${w.percent}%)`, all.filter((h) => !placed.has(h)).slice(0, Math.max(0, target - placed.size)));
    }
  });
  take(waves.length === 0 ? "all" : "rest", all);
  return waves;
}
