import { z } from "zod";
import { nixOk, type NixCallOptions } from "./command.js";
import { assertStorePath } from "./storepath.js";

export interface PathInfo {
  path: string;
  narHash: string;
  narSize: number;
  references: string[];
  closureSize?: number;
  signatures: string[];
  deriver?: string;
  valid: boolean;
}

const entry = z
  .object({
    path: z.string(),
    valid: z.boolean().optional(),
    narHash: z.string().optional(),
    narSize: z.number().optional(),
    references: z.array(z.string()).optional(),
    closureSize: z.number().optional(),
    signatures: z.array(z.string()).optional(),
    deriver: z.string().optional(),
  })
  .passthrough();

export interface PathInfoOptions extends NixCallOptions {
  /** Query this store (e.g. `file:///cache`) instead of the local one. */
  store?: string;
  recursive?: boolean;
  closureSize?: boolean;
}

/** `nix path-info --json`; paths missing from the store come back with `valid: false`. */
export async function pathInfo(paths: readonly string[], opts: PathInfoOptions = {}): Promise<PathInfo[]> {
  if (paths.length === 0) return [];
  paths.forEach(assertStorePath);
  const args = ["path-info", "--json"];
  if (opts.store) args.push("--store", opts.store);
  if (opts.recursive) args.push("--recursive");
  if (opts.closureSize) args.push("--closure-size");
  const r = await nixOk("nix", [...args, ...paths], { timeoutMs: 300_000, ...opts }, "nix-path-info-failed", `querying ${paths.length} store path(s)`, (res) =>
    /does not exist|is not valid/.test(res.stderr) ? "the path is not in that store; build or copy it first" : undefined,
  );
  const parsed = z.array(entry).parse(JSON.parse(r.stdout));
  return parsed.map((e) => ({
    path: e.path,
    narHash: e.narHash ?? "",
    narSize: e.narSize ?? 0,
    references: e.references ?? [],
    closureSize: e.closureSize,
    signatures: e.signatures ?? [],
    deriver: e.deriver,
    valid: e.valid ?? e.narHash !== undefined,
  }));
}

/** Every path in the closure of `paths` (`nix-store --query --requisites`). */
export async function closure(paths: readonly string[], opts: NixCallOptions = {}): Promise<string[]> {
  paths.forEach(assertStorePath);
  const r = await nixOk("nix-store", ["--query", "--requisites", ...paths], { timeoutMs: 300_000, ...opts }, "nix-query-failed", "querying a closure");
  return r.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
}
