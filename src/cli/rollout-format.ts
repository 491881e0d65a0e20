import { formatDuration, formatWaves, type RolloutPlan } from "../plan/index.js";
import type { RolloutView } from "../server-client/index.js";
import { hostNames } from "./confirm.js";
import { table } from "./output.js";

/** How `oscd rollout` shows rollouts: a status block, a list, and live lines for --watch. */

const clean = (s: string, max = 160) => s.replace(/[^\x20-\x7e\u00a0-\uffff]/g, "?").slice(0, max);

export function ago(ms: number | null, now: number): string {
  if (ms === null) return "-";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : s < 86_400 ? `${Math.floor(s / 3600)}h ago` : `${Math.floor(s / 86_400)}d ago`;
}

function inTime(ms: number, now: number): string {
  const s = Math.max(0, Math.ceil((ms - now) / 1000));
  return s === 0 ? "now" : `in ${formatDuration(s)}`;
}

export function releaseName(r: Pick<RolloutView, "channel" | "sequence" | "version">): string {
  return `${r.channel} #${r.sequence}${r.version ? ` (${r.version})` : ""}`;
}

/** `running`, `halted: 1 host(s) failed …`. */
function stateLine(r: RolloutView): string {
  return r.reason ? `${r.state}: ${clean(r.reason, 300)}` : r.state;
}

/**
 * The whole rollout, wave by wave and host by host (`oscd rollout status`). `maxHosts` caps the
 * hosts shown per wave (failed ones first) for `--watch` on a terminal, which draws the block
 * again in place: 10,000 lines cannot be.
 */
export function rolloutBlock(r: RolloutView, now: number, maxHosts = Infinity): string {
  const failed = r.waves.reduce((n, w) => n + w.progress.filter((h) => h.state === "failed").length, 0);
  const lines = [
    `rollout ${r.id}  ${releaseName(r)}  ${stateLine(r)}`,
    `  started ${ago(r.created_at, now)}; bake ${formatDuration(r.bake_ms / 1000)}; failures ${failed} of ${r.max_failures} tolerated; wave timeout ${r.wave_timeout_ms > 0 ? formatDuration(r.wave_timeout_ms / 1000) : "none"}`,
  ];
  for (const w of r.waves) {
    const when = [w.startedAt !== null ? `started ${ago(w.startedAt, now)}` : "", w.bakeEndsAt !== null ? `baking, next wave ${inTime(w.bakeEndsAt, now)}` : "", w.finishedAt !== null ? `done ${ago(w.finishedAt, now)}` : ""].filter(Boolean).join("; ");
    lines.push(`  ${w.idx + 1}. ${w.name} [${w.state}]${when ? ` ${when}` : ""}`);
    const shown = w.progress.length <= maxHosts ? w.progress : [...w.progress.filter((h) => h.state === "failed"), ...w.progress.filter((h) => h.state !== "failed")].slice(0, maxHosts);
    const rows = shown.map((h) => [`     ${h.host}`, h.state, h.at !== null && h.state !== "waiting" ? ago(h.at, now) : "", h.reason ? clean(h.reason) : ""]);
    if (rows.length) lines.push(table(rows).trimEnd());
    if (shown.length < w.progress.length) {
      const hidden = w.progress.filter((h) => !shown.includes(h));
      lines.push(`     and ${hidden.length} more (${countsLine(hidden)}): \`oscd rollout status ${r.id.slice(0, 8)}\` lists every host`);
    }
  }
  return lines.join("\n") + "\n";
}

/** `9800 ok, 2 failed, 198 deploying`: a wave's hosts counted by state. */
function countsLine(progress: RolloutView["waves"][number]["progress"]): string {
  const n = new Map<string, number>();
  for (const h of progress) n.set(h.state, (n.get(h.state) ?? 0) + 1);
  return [...n].map(([state, k]) => `${k} ${state}`).join(", ");
}

export function rolloutListTable(rs: readonly RolloutView[], now: number): string {
  const rows = [["ID", "RELEASE", "STATE", "WAVE", "HOSTS OK", "FAILED", "STARTED", "REASON"]];
  for (const r of rs) {
    const hosts = r.waves.reduce((n, w) => n + w.hosts.length, 0);
    const ok = r.waves.reduce((n, w) => n + w.progress.filter((h) => h.state === "ok").length, 0);
    const bad = r.waves.reduce((n, w) => n + w.progress.filter((h) => h.state === "failed").length, 0);
    const wave = r.waves[Math.min(r.current_wave, r.waves.length - 1)];
    rows.push([r.id, releaseName(r), r.state, r.state === "done" ? "-" : `${Math.min(r.current_wave + 1, r.waves.length)}/${r.waves.length}${wave ? ` ${wave.name}` : ""}`, `${ok}/${hosts}`, String(bad), ago(r.created_at, now), r.reason ? clean(r.reason, 80) : ""]);
  }
  return table(rows);
}

/** One plan on one line: `canary=web1; @web; rest, bake 10m, 1 failure tolerated`. */
export function planLine(p: RolloutPlan): string {
  const parts = [formatWaves(p)];
  if (p.bakeSeconds !== undefined) parts.push(`bake ${formatDuration(p.bakeSeconds)}`);
  if (p.maxFailures !== undefined) parts.push(`${p.maxFailures} failure(s) tolerated`);
  return parts.join(", ");
}

/**
 * `--watch` without a terminal: one line per change (a wave starting or baking, a host
 * fetching, succeeding or failing, the rollout's state), so a log reads as a story.
 */
export function changeLines(): (r: RolloutView) => string[] {
  const seen = new Map<string, string>();
  return (r) => {
    const out: string[] = [];
    const say = (key: string, value: string, line: string) => {
      if (seen.get(key) === value) return;
      seen.set(key, value);
      out.push(line);
    };
    for (const w of r.waves) {
      if (w.state !== "pending") say(`wave:${w.idx}`, w.state, `wave ${w.idx + 1} ${w.name} (${hostNames(w.hosts)}): ${w.state}${w.bakeEndsAt !== null ? `, next wave at ${new Date(w.bakeEndsAt).toISOString()}` : ""}`);
      for (const h of w.progress) if (h.state !== "waiting") say(`host:${h.host}`, h.state, `  ${h.host}: ${h.state}${h.reason ? `: ${clean(h.reason, 400)}` : ""}`);
    }
    say("rollout", `${r.state}|${r.reason ?? ""}`, `rollout ${r.id.slice(0, 8)} ${stateLine(r)}`);
    return out;
  };
}

/** Hosts per wave in the block `--watch` draws on a terminal. */
const LIVE_HOSTS = 20;

/** `--watch` on a terminal: the status block drawn again in place. */
export function liveBlock(write: (s: string) => void): (r: RolloutView) => void {
  let drawn = 0;
  return (r) => {
    const text = rolloutBlock(r, Date.now(), LIVE_HOSTS);
    const lines = text.split("\n").length - 1;
    write(`${drawn > 0 ? `\x1b[${drawn}A` : ""}\x1b[J${text}`);
    drawn = lines;
  };
}
