import { LEVELS, type Level } from "./bump.js";
import { ReleaseInputError } from "./errors.js";

/** Label names per level, as configured in `[release.labels]` of oscd.toml. */
export type LabelConfig = Record<Level, string>;

/**
 * What a pull request's labels ask for.
 * - `levels`: the release levels its labels name (RFC order, duplicates removed);
 * - `skip`: the skip label (`<prefix>none`) is present: explicitly no release;
 * - `ignored`: labels that are not release labels (e.g. `bug`), ignored.
 */
export interface LabelDecision {
  levels: Level[];
  /** The label that selected each level, as written on the pull request. */
  matched: { label: string; level: Level }[];
  skip: string | undefined;
  ignored: string[];
}

const SEPARATORS = [":", "/"];

/**
 * The prefix the configured release labels share, up to and including the last `:` or `/`
 * (`release:` for the defaults), or undefined when they share none. Labels with this prefix
 * are release labels: an unknown one (a typo such as `release:mayor`) is an error.
 */
export function releaseLabelPrefix(labels: LabelConfig): string | undefined {
  const names = LEVELS.map((l) => labels[l].toLowerCase());
  let common = names[0] ?? "";
  for (const n of names.slice(1)) {
    let i = 0;
    while (i < common.length && i < n.length && common[i] === n[i]) i++;
    common = common.slice(0, i);
  }
  const cut = Math.max(...SEPARATORS.map((s) => common.lastIndexOf(s)));
  return cut > 0 ? labels.major.slice(0, cut + 1) : undefined;
}

/** The label that says "this pull request makes no release": `<prefix>none`, when there is a prefix. */
export function skipLabel(labels: LabelConfig): string | undefined {
  const prefix = releaseLabelPrefix(labels);
  return prefix === undefined ? undefined : `${prefix}none`;
}

/** Refuses label configurations where two levels (or a level and the skip label) share a name. */
export function checkLabelConfig(labels: LabelConfig): void {
  const seen = new Map<string, string>();
  const skip = skipLabel(labels);
  const entries: [string, string][] = [...LEVELS.map((l): [string, string] => [l, labels[l]]), ...(skip ? [["skip", skip] as [string, string]] : [])];
  for (const [what, name] of entries) {
    if (name.trim() === "") throw new ReleaseInputError("release-bad-config", `release.labels.${what} is empty`, "name a label, e.g. release:patch");
    const prev = seen.get(name.toLowerCase());
    if (prev !== undefined) {
      throw new ReleaseInputError(
        "release-bad-config",
        `release labels conflict: ${prev} and ${what} are both ${JSON.stringify(name)}`,
        "give each level its own label in [release.labels] of oscd.toml",
      );
    }
    seen.set(name.toLowerCase(), what);
  }
}

/**
 * Decides the release levels from a pull request's label names. Label names compare without
 * case (GitHub label names are unique regardless of case). Errors: a label with the release
 * prefix that is neither a level nor the skip label; the skip label together with a level.
 */
export function levelsFromLabels(names: readonly string[], labels: LabelConfig): LabelDecision {
  checkLabelConfig(labels);
  const prefix = releaseLabelPrefix(labels)?.toLowerCase();
  const skip = skipLabel(labels)?.toLowerCase();
  const byName = new Map(LEVELS.map((l) => [labels[l].toLowerCase(), l] as const));
  const matched: { label: string; level: Level }[] = [];
  const ignored: string[] = [];
  let skipped: string | undefined;
  for (const name of names) {
    const key = name.toLowerCase();
    const level = byName.get(key);
    if (level !== undefined) matched.push({ label: name, level });
    else if (key === skip) skipped = name;
    else if (prefix !== undefined && key.startsWith(prefix)) {
      const known = [...LEVELS.map((l) => labels[l]), ...(skip ? [skipLabel(labels) as string] : [])];
      throw new ReleaseInputError(
        "release-unknown-label",
        `unknown release label ${JSON.stringify(name)}`,
        `release labels are ${known.join(", ")}; fix the label on the pull request (nothing was released)`,
      );
    } else ignored.push(name);
  }
  if (skipped !== undefined && matched.length > 0) {
    throw new ReleaseInputError(
      "release-conflicting-labels",
      `conflicting labels: ${JSON.stringify(skipped)} says no release, ${matched.map((m) => JSON.stringify(m.label)).join(" and ")} ask${matched.length === 1 ? "s" : ""} for one`,
      "keep either the skip label or the release level labels on the pull request (nothing was released)",
    );
  }
  const levels = LEVELS.filter((l) => matched.some((m) => m.level === l));
  return { levels, matched, skip: skipped, ignored };
}
