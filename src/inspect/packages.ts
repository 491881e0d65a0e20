import { storePathName } from "./store-name.js";

/** A store path's name split as `builtins.parseDrvName` does: the version starts at the first `-` not followed by a letter. */
export function parseName(name: string): { name: string; version: string } {
  const m = /-(?![A-Za-z])/.exec(name);
  if (!m) return { name, version: "" };
  return { name: name.slice(0, m.index), version: name.slice(m.index + 1) };
}

export interface PackageChange {
  name: string;
  from: string[];
  to: string[];
}

export interface PackageDiff {
  added: { name: string; versions: string[] }[];
  removed: { name: string; versions: string[] }[];
  /** The same name with other versions. */
  changed: PackageChange[];
}

function versionsByName(paths: readonly string[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const p of paths) {
    const { name, version } = parseName(storePathName(p));
    const set = out.get(name) ?? new Set<string>();
    set.add(version);
    out.set(name, set);
  }
  return out;
}

const sorted = (s: Set<string> | undefined) => [...(s ?? [])].sort();

/** Packages added, removed and changed (by name and version) between two closures' store paths. */
export function packageDiff(from: readonly string[], to: readonly string[]): PackageDiff {
  const a = versionsByName(from);
  const b = versionsByName(to);
  const diff: PackageDiff = { added: [], removed: [], changed: [] };
  for (const [name, versions] of b) {
    const old = a.get(name);
    if (!old) diff.added.push({ name, versions: sorted(versions) });
    else if (sorted(old).join("\0") !== sorted(versions).join("\0")) diff.changed.push({ name, from: sorted(old), to: sorted(versions) });
  }
  for (const [name, versions] of a) if (!b.has(name)) diff.removed.push({ name, versions: sorted(versions) });
  const byName = (x: { name: string }, y: { name: string }) => x.name.localeCompare(y.name);
  diff.added.sort(byName);
  diff.removed.sort(byName);
  diff.changed.sort(byName);
  return diff;
}
