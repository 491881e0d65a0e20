import { readFile } from "node:fs/promises";
import { z } from "zod";
import { nixRun, type NixCallOptions } from "../nix/index.js";

/** Systems this machine can build: its own, its extra platforms, and its remote builders'. */
export interface Platforms {
  local: string;
  /** undefined when they cannot be known (then every system is attempted). */
  buildable: Set<string> | undefined;
}

const setting = z.object({ value: z.unknown() }).passthrough();
const config = z.record(setting);

/**
 * Nix 2.8 aborts a whole `nix-store --realise`, `--keep-going` or not, when one derivation
 * needs a platform no builder offers; so hosts of such a system are kept out of the joint
 * build and reported on their own. `builders` is the `--builders` value, if given.
 */
export async function buildablePlatforms(builders: string | undefined, opts: NixCallOptions = {}): Promise<Platforms> {
  const r = await nixRun("nix", ["show-config", "--json"], { timeoutMs: 60_000, ...opts });
  if (r.exitCode !== 0) return { local: "", buildable: undefined };
  const c = config.parse(JSON.parse(r.stdout));
  const local = String(c.system?.value ?? "");
  const extra = Array.isArray(c["extra-platforms"]?.value) ? (c["extra-platforms"]?.value as unknown[]).map(String) : [];
  const remote = await builderSystems(builders ?? String(c.builders?.value ?? ""), local);
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
