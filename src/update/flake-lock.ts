import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { features, nixOk, nixVersion, type NixCallOptions } from "../nix/index.js";
import { PinFileInvalidError, type PinnedInput } from "../builder/index.js";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The root inputs of a flake.lock and what each is locked to. Anything that is not the
 * lock format Nix writes (version 7, a root node, nodes with `locked`) is refused before Nix
 * sees it, so a hand-edited lock is reported as such and never half-updated.
 */
export type { PinnedInput };

export function parseFlakeLock(text: string, file = "flake.lock"): PinnedInput[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new PinFileInvalidError(file, `not JSON (${(e instanceof Error ? e.message : String(e)).split("\n")[0]})`);
  }
  if (!isObject(doc) || typeof doc.version !== "number" || typeof doc.root !== "string" || !isObject(doc.nodes)) throw new PinFileInvalidError(file, "it needs version, root and nodes");
  const nodes = doc.nodes;
  const root = nodes[doc.root];
  if (!isObject(root)) throw new PinFileInvalidError(file, `the root node ${JSON.stringify(doc.root)} is missing`);
  const inputs = root.inputs ?? {};
  if (!isObject(inputs)) throw new PinFileInvalidError(file, "the root node's inputs are not an object");
  const out: PinnedInput[] = [];
  for (const [name, target] of Object.entries(inputs)) {
    // An input that follows another (an array path) has no lock of its own.
    if (Array.isArray(target)) continue;
    if (typeof target !== "string") throw new PinFileInvalidError(file, `input ${JSON.stringify(name)} points at no node`);
    const node = nodes[target];
    if (!isObject(node) || !isObject(node.locked)) throw new PinFileInvalidError(file, `input ${JSON.stringify(name)} has no locked node`);
    const locked = node.locked;
    const rev = typeof locked.rev === "string" ? locked.rev : typeof locked.narHash === "string" ? locked.narHash : undefined;
    if (rev === undefined) throw new PinFileInvalidError(file, `input ${JSON.stringify(name)} is locked to neither a rev nor a narHash`);
    out.push({ name, rev, url: typeof locked.url === "string" ? locked.url : undefined });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Updates the named inputs (all when none) of the flake in `dir` with Nix's own lock command
 * for the installed version: `nix flake lock --update-input` before 2.19, `nix flake update
 * NAME… --flake` from 2.19 on (where `--update-input` is deprecated) and on Lix (where it is
 * refused). Returns the new lock text.
 */
export async function updateFlakeLock(dir: string, names: readonly string[], nix: NixCallOptions = {}): Promise<string> {
  const v = await nixVersion(nix);
  const ref = `path:${dir}`;
  let args: string[];
  if (features(v).flakeUpdateTakesInputs) args = ["flake", "update", ...names, "--flake", ref];
  else if (names.length === 0) args = ["flake", "update", ref];
  else args = ["flake", "lock", ...names.flatMap((n) => ["--update-input", n]), ref];
  await nixOk("nix", args, { timeoutMs: 600_000, ...nix }, "update-lock-failed", `updating ${names.length > 0 ? names.join(", ") : "every input"}`, () => "check that the inputs' URLs are reachable from here");
  return readFile(join(dir, "flake.lock"), "utf8");
}
