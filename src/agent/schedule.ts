import type { AgentConfig, TimeWindow } from "./config.js";

const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * True when `now` (local time) is inside the window. `upper` before `lower` wraps midnight;
 * `days` name the day the window opens on. lower == upper is the whole day.
 */
export function inWindow(w: TimeWindow, now: Date): boolean {
  const m = now.getHours() * 60 + now.getMinutes();
  const lo = minutes(w.lower);
  const hi = minutes(w.upper);
  const dayOk = (offset: number) => {
    if (!w.days) return true;
    const d = new Date(now.getTime() - offset * 86_400_000);
    return w.days.includes(DAY_NAMES[d.getDay()] as (typeof DAY_NAMES)[number]);
  };
  if (lo === hi) return dayOk(0);
  if (lo < hi) return m >= lo && m < hi && dayOk(0);
  // Wraps midnight: the evening part opened today, the morning part yesterday.
  if (m >= lo) return dayOk(0);
  if (m < hi) return dayOk(1);
  return false;
}

/** No windows means any time. */
export function inAnyWindow(windows: readonly TimeWindow[], now: Date): boolean {
  return windows.length === 0 || windows.some((w) => inWindow(w, now));
}

/** When the next window opens (minute resolution, within 8 days), or undefined. */
export function nextOpening(windows: readonly TimeWindow[], now: Date): Date | undefined {
  if (inAnyWindow(windows, now)) return now;
  const start = new Date(now);
  start.setSeconds(0, 0);
  for (let i = 1; i <= 8 * 24 * 60; i++) {
    const t = new Date(start.getTime() + i * 60_000);
    if (inAnyWindow(windows, t)) return t;
  }
  return undefined;
}

export type Plan = { action: "deploy"; mode: "switch" | "boot" | "test"; note?: string } | { action: "wait"; until?: Date; reason: string };

/**
 * Whether a deployment may run now and how: inside a switch window as asked; outside, `boot`
 * installs for the next boot (a `test` waits: it has nothing to install), or everything waits.
 */
export function planDeployment(mode: "switch" | "boot" | "test", cfg: Pick<AgentConfig, "switchWindows" | "outsideWindow">, now: Date): Plan {
  if (mode === "boot" || inAnyWindow(cfg.switchWindows, now)) return { action: "deploy", mode };
  const until = nextOpening(cfg.switchWindows, now);
  if (cfg.outsideWindow === "boot" && mode === "switch") return { action: "deploy", mode: "boot", note: "outside the switch window: installed for the next boot" };
  return { action: "wait", until, reason: `outside the switch window${until ? `; it opens at ${until.toISOString()}` : ""}` };
}

/** When to reboot for a needed reboot: inside the reboot window, plus a random delay; undefined = never. */
export function planReboot(cfg: AgentConfig["reboot"], now: Date, random: () => number = Math.random): Date | undefined {
  if (cfg.policy === "never") return undefined;
  const open = cfg.rebootWindow ? nextOpening([cfg.rebootWindow], now) : now;
  if (!open) return undefined;
  return new Date(open.getTime() + Math.floor(random() * cfg.randomizedDelaySec * 1000));
}
