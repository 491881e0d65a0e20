import { UsageError } from "../core/errors.js";

export interface SelectableHost {
  name: string;
  tags: readonly string[];
}

/**
 * Host selection as colmena's `--on`: comma-separated names, globs (`web*`, `db-?`) and tags
 * (`@web`). Empty selects all. A term that matches nothing is an error, so a typo never
 * deploys to fewer hosts than meant without saying so.
 */
export function selectHosts<T extends SelectableHost>(hosts: readonly T[], selection: string | undefined): T[] {
  const terms = (selection ?? "").split(",").map((t) => t.trim()).filter(Boolean);
  if (terms.length === 0) return [...hosts];
  const picked = new Set<string>();
  for (const term of terms) {
    const matches = term.startsWith("@") ? hosts.filter((h) => h.tags.includes(term.slice(1))) : hosts.filter((h) => globToRegExp(term).test(h.name));
    if (matches.length === 0) {
      throw new UsageError(`--on ${JSON.stringify(term)} matches no host`, `hosts are: ${hosts.map((h) => h.name).join(", ") || "(none)"}`, "no-such-host");
    }
    for (const m of matches) picked.add(m.name);
  }
  return hosts.filter((h) => picked.has(h.name));
}

export function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`);
}
