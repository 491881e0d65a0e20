import { readFile } from "node:fs/promises";
import { nixConfig, settingWords, type NixCallOptions } from "../nix/index.js";

/** Systems this machine can build: its own, its extra platforms, and its remote builders'. */
export interface Platforms {
  local: string;
  /** undefined when they cannot be known (then every system is attempted). */
  buildable: Set<string> | undefined;
}

/**
 * Nix 2.8 aborts a whole `nix-store --realise`, `--keep-going` or not, when one derivation
 * needs a platform no builder offers; so hosts of such a system are kept out of the joint
 * build and reported on their own. `builders` is the `--builders` value, if given.
 */
export async function buildablePlatforms(builders: string | undefined, opts: NixCallOptions = {}): Promise<Platforms> {
  const c = await nixConfig(opts);
  if (!c) return { local: "", buildable: undefined };
  const local = String(c.get("system") ?? "");
  const extra = settingWords(c.get("extra-platforms"));
  const remote = await builderSystems(builders ?? String(c.get("builders") ?? ""), local);
  if (remote === undefined) return { local, buildable: undefined };
  return { local, buildable: new Set([local, ...extra, ...remote].filter(Boolean)) };
}

/** The systems of a `builders` specification (`;`- or line-separated machines, or `@file`). */
export async function builderSystems(spec: string, local: string): Promise<string[] | undefined> {
  const out: string[] = [];
  for (const entry of spec.split(/[;\n]/).map((e) => e.trim()).filter((e) => e && !e.startsWith("#"))) {
    if (entry.startsWith("@")) {
      let text: string;
      try {
        text = await readFile(entry.slice(1), "utf8");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
        return undefined;
      }
      const inner = await builderSystems(text, local);
      if (inner === undefined) return undefined;
      out.push(...inner);
      continue;
    }
    const fields = entry.split(/\s+/);
    const systems = fields[1];
    if (systems === undefined || systems === "-" || systems === "") out.push(local);
    else out.push(...systems.split(","));
  }
  return out;
}
