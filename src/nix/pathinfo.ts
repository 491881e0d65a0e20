import { nixOk, type NixCallOptions } from "./command.js";
import { storePathMissing } from "./messages.js";
import { parsePathInfoJson, type PathInfo } from "./pathinfo-json.js";
import { assertStorePath } from "./storepath.js";
import { features, nixVersion } from "./version.js";


export interface PathInfoOptions extends NixCallOptions {
  /** Query this store (e.g. `file:///cache`) instead of the local one. */
  store?: string;
  recursive?: boolean;
  closureSize?: boolean;
}

/**
 * The JSON format oscd asks Nix 2.33 and later for: version 2 keeps signatures as
 * `name:base64` strings and gives references as base names, which the parser joins to the
 * store directory Nix names. Older releases take no flag.
 */
export const PATH_INFO_JSON_FORMAT = "2";

/** `nix path-info --json`, in any shape Nix prints it; paths missing from the store come back with `valid: false`. */
export async function pathInfo(paths: readonly string[], opts: PathInfoOptions = {}): Promise<PathInfo[]> {
  if (paths.length === 0) return [];
  paths.forEach(assertStorePath);
  const version = await nixVersion(opts);
  const args = ["path-info", "--json"];
  if (features(version).pathInfoJson === "format-flag") args.push("--json-format", PATH_INFO_JSON_FORMAT);
  if (opts.store) args.push("--store", opts.store);
  if (opts.recursive) args.push("--recursive");
  if (opts.closureSize) args.push("--closure-size");
  const r = await nixOk("nix", [...args, ...paths], { timeoutMs: 300_000, ...opts }, "nix-path-info-failed", `querying ${paths.length} store path(s)`, (res) =>
    storePathMissing(res.stderr) ? "the path is not in that store; build or copy it first" : undefined,
  );
  return parsePathInfoJson(r.stdout, version);
}

/** Every path in the closure of `paths` (`nix-store --query --requisites`). */
export async function closure(paths: readonly string[], opts: NixCallOptions = {}): Promise<string[]> {
  paths.forEach(assertStorePath);
  const r = await nixOk("nix-store", ["--query", "--requisites", ...paths], { timeoutMs: 300_000, ...opts }, "nix-query-failed", "querying a closure");
  return r.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
}
