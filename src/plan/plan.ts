/**
 * The manifest's host-name rule (src/manifest), kept here so this module imports nothing: the
 * command line reads plans without loading the manifest and fleet modules (and zod with them).
 * A unit test checks the two rules agree.
 */
export const PLAN_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
export const PLAN_NAME_MAX = 63;

/**
 * A rollout plan: which hosts go first, how long each wave must stay healthy before the next,
 * how many failures are tolerated. Written the same way on the command line
 * (`oscd rollout start main --waves 'canary=web1; @web; 50%; rest' --bake 10m`), in oscd.toml
 * (`[channels.main.rollout]`) and in the dashboard's form, and sent to the server as data.
 *
 * Waves, separated by `;`:
 * - `canary=web1,web2`: these hosts first (at most once, first);
 * - `@tag`: the hosts with this tag;
 * - `50%`: hosts until half of the release's hosts have it (cumulative);
 * - `web3,web4`: these hosts;
 * - `rest` (last, optional): everyone left, which always comes last anyway; `all` alone: one wave.
 */
export type WaveSpec = { hosts: string[] } | { tag: string } | { percent: number };

export interface RolloutPlan {
  canary?: string[];
  waves?: WaveSpec[];
  bakeSeconds?: number;
  maxFailures?: number;
  waveTimeoutSeconds?: number;
}

export class RolloutPlanError extends Error {}

const name = (s: string, what: string): string => {
  if (s.length === 0 || s.length > PLAN_NAME_MAX || !PLAN_NAME.test(s)) throw new RolloutPlanError(`${JSON.stringify(s.slice(0, 60))} is not a ${what} (letters, digits, '-' and '_')`);
  return s;
};
const hostList = (s: string): string[] => {
  const hosts = s.split(",").map((h) => h.trim()).filter(Boolean).map((h) => name(h, "host name"));
  if (hosts.length === 0) throw new RolloutPlanError("a wave of hosts names at least one host");
  return hosts;
};

/** The waves of `canary=web1; @web; 50%; rest`, or a RolloutPlanError naming the part that is wrong. */
export function parseWaves(text: string): Pick<RolloutPlan, "canary" | "waves"> {
  if (text.length > 10_000) throw new RolloutPlanError("the waves are longer than 10000 characters");
  const parts = text.split(";").map((p) => p.trim()).filter(Boolean);
  const plan: { canary?: string[]; waves: WaveSpec[] } = { waves: [] };
  parts.forEach((p, i) => {
    const last = i === parts.length - 1;
    const canary = /^canary\s*=\s*(.*)$/.exec(p);
    if (canary) {
      if (i !== 0) throw new RolloutPlanError(`"${p}": the canary comes first`);
      plan.canary = hostList(canary[1] as string);
    } else if (p === "rest" || p === "all") {
      if (!last) throw new RolloutPlanError(`"${p}" takes every host left, so it comes last`);
      if (p === "all" && parts.length > 1) throw new RolloutPlanError(`"all" is a plan of its own (one wave of every host)`);
    } else if (p.startsWith("@")) {
      plan.waves.push({ tag: name(p.slice(1), "tag") });
    } else if (/%$/.test(p)) {
      const n = Number(p.slice(0, -1));
      if (!/^\d+(\.\d+)?%$/.test(p) || !(n > 0 && n <= 100)) throw new RolloutPlanError(`"${p}": a percentage is more than 0 and at most 100, e.g. 25%`);
      plan.waves.push({ percent: n });
    } else {
      plan.waves.push({ hosts: hostList(p) });
    }
  });
  if (plan.waves.length > 100) throw new RolloutPlanError("at most 100 waves");
  return plan.canary ? plan : { waves: plan.waves };
}

/** The text of a plan's waves, as parseWaves reads it back. */
export function formatWaves(p: Pick<RolloutPlan, "canary" | "waves">): string {
  const parts: string[] = [];
  if (p.canary?.length) parts.push(`canary=${p.canary.join(",")}`);
  for (const w of p.waves ?? []) parts.push("hosts" in w ? w.hosts.join(",") : "tag" in w ? `@${w.tag}` : `${w.percent}%`);
  parts.push(parts.length === 0 ? "all" : "rest");
  return parts.join("; ");
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90s`, `10m`, `1h30m`, `2d`, or whole seconds; at most `maxSeconds`. */
export function parseDuration(text: string, what: string, maxSeconds = 30 * 86_400): number {
  const t = text.trim();
  let total = 0;
  if (/^\d+$/.test(t)) total = Number(t);
  else {
    const parts = [...t.matchAll(/(\d+)([smhd])/g)];
    if (parts.length === 0 || parts.map((m) => m[0]).join("") !== t) throw new RolloutPlanError(`${what} ${JSON.stringify(t.slice(0, 40))} is not a duration (e.g. 90s, 10m, 1h30m, 2d)`);
    for (const m of parts) total += Number(m[1]) * (UNITS[m[2] as string] as number);
  }
  if (total > maxSeconds) throw new RolloutPlanError(`${what} ${t} is longer than ${Math.round(maxSeconds / 86_400)} days`);
  return total;
}

/** `10m`, `1h30m`, `45s`: the shortest way to write whole seconds. */
export function formatDuration(seconds: number): string {
  let s = Math.round(seconds);
  if (s === 0) return "0s";
  let out = "";
  for (const [u, n] of [["d", 86_400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (s >= n) {
      out += `${Math.floor(s / n)}${u}`;
      s %= n;
    }
  }
  return out;
}

