import { z } from "zod";
import { parseNixHash, toSri } from "./hash.js";
import { NixOutputUnrecognisedError, parseNixJsonText, zodProblem } from "./output-error.js";
import { isStorePath, STORE_DIR } from "./storepath.js";
import type { NixVersion } from "./version.js";

/** One store path's record, whichever shape Nix printed it in. */
export interface PathInfo {
  path: string;
  /** SRI (`sha256-<base64>`), whatever form Nix printed. */
  narHash: string;
  narSize: number;
  /** Full store paths. */
  references: string[];
  closureSize?: number;
  /** `keyname:base64`, as narinfo files and Nix 2.8–2.34's JSON write them. */
  signatures: string[];
  deriver?: string;
  /** The path is content-addressed (Nix trusts such a path without a signature). */
  contentAddressed?: boolean;
  valid: boolean;
}

/*
 * The shapes `nix path-info --json` prints, from the Nix manual and sources:
 * - Nix 2.8–2.18 and Lix: an array of `{ path, narHash, narSize, references, … }`, an invalid
 *   path as `{ path, valid: false }` (Lix adds `valid: true` to the others). Signatures are
 *   left out when there are none.
 * - Nix 2.19–2.32: an object keyed by store path, `null` for an invalid one; `deriver` may be
 *   `null`, `signatures` always present.
 * - Nix 2.33 on, `--json-format 1` (or none, with a warning): that object, each entry also
 *   carrying `version: 1` and `storeDir`.
 * - Nix 2.33 on, `--json-format 2`: `{ version: 2, storeDir, info: { <base name>: entry | null } }`,
 *   references and deriver as base names, `ca` as an object; `--json-format 3` (2.35): signatures
 *   as `{ keyName, sig }` objects.
 * Hashes are SRI strings in every release; `sha256:<nix32>` and the structured hash objects of
 * Nix's development branch are read too.
 */

const signature = z.union([z.string(), z.object({ keyName: z.string(), sig: z.string() }).passthrough().transform((s) => `${s.keyName}:${s.sig}`)]);

const entry = z
  .object({
    path: z.string().optional(),
    valid: z.boolean().optional(),
    storeDir: z.string().optional(),
    narHash: z.unknown().optional(),
    narSize: z.number().int().nonnegative().optional(),
    references: z.array(z.string()).optional(),
    closureSize: z.number().int().nonnegative().optional(),
    signatures: z.array(signature).nullish(),
    deriver: z.string().nullish(),
    ca: z.unknown().optional(),
  })
  .passthrough();

type Entry = z.infer<typeof entry>;

const arrayShape = z.array(entry);
const keyedShape = z.record(entry.nullable());
const versionedShape = z.object({ version: z.number().int(), storeDir: z.string(), info: z.record(entry.nullable()) }).passthrough();

const COMMAND = "nix path-info --json";

function fullPath(p: string, storeDir: string): string {
  return p.startsWith("/") ? p : `${storeDir}/${p}`;
}

function fail(version: NixVersion | undefined, detail: string): never {
  throw new NixOutputUnrecognisedError(COMMAND, version, detail);
}

function normalise(key: string | undefined, e: Entry | null, storeDir: string, version: NixVersion | undefined): PathInfo {
  const path = fullPath(e?.path ?? key ?? "", e?.storeDir ?? storeDir);
  if (!isStorePath(path)) fail(version, `an entry names ${JSON.stringify(path.slice(0, 120))}, not a store path`);
  if (e === null || e.valid === false) return { path, narHash: "", narSize: 0, references: [], signatures: [], valid: false };
  const dir = e.storeDir ?? storeDir;
  if (e.narHash === undefined) {
    // Nix 2.8 prints `{ path, valid: false }` for an invalid path; anything else needs its hash.
    if (e.valid === undefined && Object.keys(e).every((k) => k === "path")) return { path, narHash: "", narSize: 0, references: [], signatures: [], valid: false };
    fail(version, `the entry of ${path} has no narHash`);
  }
  const hash = parseNixHash(e.narHash);
  if (!hash) fail(version, `the narHash of ${path} is not a hash Nix prints: ${JSON.stringify(e.narHash).slice(0, 80)}`);
  if (e.narSize === undefined) fail(version, `the entry of ${path} has no narSize`);
  const references = (e.references ?? []).map((r) => fullPath(r, dir));
  const badRef = references.find((r) => !isStorePath(r));
  if (badRef !== undefined) fail(version, `a reference of ${path} is not a store path: ${JSON.stringify(badRef.slice(0, 120))}`);
  const deriver = e.deriver ? fullPath(e.deriver, dir) : undefined;
  return {
    path,
    narHash: toSri(hash),
    narSize: e.narSize,
    references,
    closureSize: e.closureSize,
    signatures: e.signatures ?? [],
    deriver,
    contentAddressed: e.ca !== undefined && e.ca !== null && e.ca !== "",
    valid: true,
  };
}

/** Reads `nix path-info --json` as printed by any supported Nix or Lix (see the shapes above). */
export function parsePathInfoJson(text: string, version?: NixVersion): PathInfo[] {
  const doc = parseNixJsonText(COMMAND, version, text);
  if (Array.isArray(doc)) {
    const r = arrayShape.safeParse(doc);
    if (!r.success) fail(version, zodProblem(r.error));
    return r.data.map((e) => normalise(undefined, e, STORE_DIR, version));
  }
  if (typeof doc === "object" && doc !== null && "info" in doc && "version" in doc) {
    const r = versionedShape.safeParse(doc);
    if (!r.success) fail(version, zodProblem(r.error));
    if (r.data.version < 2) fail(version, `format version ${r.data.version} with an info object`);
    return Object.entries(r.data.info).map(([k, e]) => normalise(k, e, r.data.storeDir, version));
  }
  if (typeof doc === "object" && doc !== null) {
    const r = keyedShape.safeParse(doc);
    if (!r.success) fail(version, zodProblem(r.error));
    return Object.entries(r.data).map(([k, e]) => normalise(k, e, STORE_DIR, version));
  }
  return fail(version, `expected an array or an object, got ${doc === null ? "null" : typeof doc}`);
}
