import semver from "semver";
import { ReleaseInputError } from "./errors.js";

/** The RFC's order: major → minor → patch, so each successive bump stays visible. */
export const LEVELS = ["major", "minor", "patch"] as const;
export type Level = (typeof LEVELS)[number];

/** `sequential`: one commit and tag per level in the RFC's order; `highest`: only the highest level. */
export type Strategy = "sequential" | "highest";
export const STRATEGIES: readonly Strategy[] = ["sequential", "highest"];

export interface BumpStep {
  level: Level;
  from: string;
  version: string;
}

export function isLevel(s: string): s is Level {
  return (LEVELS as readonly string[]).includes(s);
}

export function parseLevel(s: string): Level {
  if (!isLevel(s)) {
    throw new ReleaseInputError("release-bad-level", `unknown release level ${JSON.stringify(s)}`, "a level is major, minor or patch");
  }
  return s;
}

export function parseStrategy(s: string): Strategy {
  if (!(STRATEGIES as readonly string[]).includes(s)) {
    throw new ReleaseInputError("release-bad-strategy", `unknown strategy ${JSON.stringify(s)}`, "a strategy is sequential (one tag per level) or highest");
  }
  return s as Strategy;
}

/** Levels without duplicates, in the RFC's order; `highest` keeps only the first. */
export function orderLevels(levels: readonly Level[], strategy: Strategy): Level[] {
  const ordered = LEVELS.filter((l) => levels.includes(l));
  return strategy === "highest" ? ordered.slice(0, 1) : ordered;
}

/**
 * The versions a bump goes through, one step per level: 1.2.3 with major and patch is
 * 1.2.3 → 2.0.0 → 2.0.1 (sequential) or 1.2.3 → 2.0.0 (highest). The arithmetic is semver's.
 */
export function planBump(current: string, levels: readonly Level[], strategy: Strategy): BumpStep[] {
  const steps: BumpStep[] = [];
  let from = current;
  for (const level of orderLevels(levels, strategy)) {
    const version = semver.inc(from, level);
    if (version === null) {
      throw new ReleaseInputError("release-bad-version", `cannot bump ${JSON.stringify(from)}: not a semantic version`, "the version file holds one version such as 1.2.3");
    }
    steps.push({ level, from, version });
    from = version;
  }
  return steps;
}
