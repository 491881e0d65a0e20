import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { OscdError } from "../core/errors.js";
import { evalExprJson, type NixCallOptions, type NixSource } from "../nix/index.js";
import type { Fleet } from "../fleet/index.js";
import type { OverrideInputs } from "./overrides.js";

/** flake.lock or the pin file is not what Nix or oscd wrote (edited by hand into garbage): exit 2, nothing changed. */
export class PinFileInvalidError extends OscdError {
  constructor(file: string, why: string) {
    super("update-pins-invalid", `${file} is not a valid ${file.endsWith("flake.lock") ? "flake lock" : "pin file"}: ${why}`, {
      exitCode: 2,
      hint: file.endsWith("flake.lock") ? "restore it from git (git checkout -- flake.lock) or regenerate it with nix flake lock" : 'each entry is "name": { "url": "...", "rev": "<40 hex>", "ref": "main" }',
    });
  }
}

/** One pinned input: its name and the revision (or, for non-git inputs, the NAR hash) it is locked to. */
export interface PinnedInput {
  name: string;
  rev: string;
  url?: string;
}

/** One entry of a classic fleet's pin file: a git repository at a revision, followed on `ref`. */
export interface Pin {
  url: string;
  rev: string;
  /** The branch or tag `oscd update` follows (default: the remote's HEAD). */
  ref?: string;
}

export type Pins = Record<string, Pin>;

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_'-]*$/;
const REV = /^[0-9a-f]{40}$/;
// A URL git fetches; never something git or fetchGit could read as an option.
const URL = /^(?:(?:https?|ssh|git|file):\/\/[^\s]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+)$/;
const REF = /^[A-Za-z0-9_][A-Za-z0-9._/-]*$/;

/** The pin file, strictly: every entry `{ url, rev, ref? }` and nothing else. */
export function parsePins(text: string, file = "pins.json"): Pins {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new PinFileInvalidError(file, `not JSON (${(e instanceof Error ? e.message : String(e)).split("\n")[0]})`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new PinFileInvalidError(file, "the top level is not an object");
  const out: Pins = Object.create(null) as Pins;
  for (const [name, entry] of Object.entries(doc)) {
    if (!NAME.test(name) || name === "__proto__") throw new PinFileInvalidError(file, `${JSON.stringify(name)} is not an input name`);
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new PinFileInvalidError(file, `${name} is not an object`);
    const { url, rev, ref, ...rest } = entry as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw new PinFileInvalidError(file, `${name} has unknown key(s) ${Object.keys(rest).map((k) => JSON.stringify(k)).join(", ")}`);
    if (typeof url !== "string" || !URL.test(url)) throw new PinFileInvalidError(file, `${name}.url is not a git URL`);
    if (typeof rev !== "string" || !REV.test(rev)) throw new PinFileInvalidError(file, `${name}.rev is not a 40-digit commit id`);
    if (ref !== undefined && (typeof ref !== "string" || !REF.test(ref) || ref.includes(".."))) throw new PinFileInvalidError(file, `${name}.ref is not a branch or tag name`);
    out[name] = ref === undefined ? { url, rev } : { url, rev, ref: ref as string };
  }
  return out;
}

export function pinnedInputs(pins: Pins): PinnedInput[] {
  return Object.entries(pins)
    .map(([name, p]) => ({ name, rev: p.rev, url: p.url }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The pin file as oscd writes it: two-space JSON, keys sorted, a final newline. */
export function formatPins(pins: Pins): string {
  const sorted = Object.fromEntries(Object.keys(pins).sort().map((k) => [k, pins[k]]));
  return `${JSON.stringify(sorted, null, 2)}\n`;
}

/** The argument a classic fleet file takes to have pins replaced: `{ oscdPins ? "{}" }:`, merged over the pin file. */
export const PINS_ARGUMENT = "oscdPins";

function overridePin(name: string, ref: string, current: Pin, file: string): Pin {
  if (REV.test(ref)) return { ...current, rev: ref };
  const m = /^git\+(.+?)\?(?:.*&)?rev=([0-9a-f]{40})(?:&.*)?$/.exec(ref);
  if (m && URL.test(m[1] as string)) return { url: m[1] as string, rev: m[2] as string };
  throw new OscdError("override-bad-pin", `--override-input ${name}=${JSON.stringify(ref)}: a classic fleet's pin is overridden by a commit id or git+URL?rev=<commit>`, {
    exitCode: 2,
    hint: `e.g. ${name}=<40-hex commit> or ${name}=git+https://example.org/pkgs.git?rev=<commit> (entries of ${file})`,
  });
}

/**
 * `--override-input` for a classic fleet: the overridden entries of its pin file, passed to the
 * fleet file as the `oscdPins` argument (JSON), which the file merges over the pin file. A name
 * the pin file lacks, or a fleet file that takes no `oscdPins`, is refused: an override that
 * is silently ignored would build something else than asked.
 */
export async function classicOverrideSource(fleet: Fleet, source: NixSource, overrides: OverrideInputs, nix: NixCallOptions = {}): Promise<NixSource> {
  if (source.kind !== "file") throw new Error("classicOverrideSource needs a classic source");
  const file = fleet.config.update.pinFile;
  let text: string;
  try {
    text = await readFile(join(fleet.root, file), "utf8");
  } catch {
    throw new OscdError("override-needs-pins", `--override-input on a classic fleet needs its pin file ${file}, which the commit lacks`, {
      exitCode: 2,
      hint: "pin the fleet's git inputs in pins.json ([update] pinFile), read by the fleet file",
    });
  }
  const pins = parsePins(text, file);
  const replaced: Pins = {};
  for (const [name, ref] of Object.entries(overrides)) {
    const current = pins[name];
    if (!current) throw new OscdError("override-unknown-input", `--override-input names no entry of ${file}: ${JSON.stringify(name)}`, { exitCode: 2, hint: `entries are: ${Object.keys(pins).join(", ") || "(none)"}` });
    replaced[name] = overridePin(name, ref, current, file);
  }
  const takes = await evalExprJson(`let f = import (/. + ${JSON.stringify(source.file)}); in builtins.isFunction f && builtins.hasAttr ${JSON.stringify(PINS_ARGUMENT)} (builtins.functionArgs f)`, { ...nix, impure: true });
  if (takes !== true) {
    throw new OscdError("override-needs-pins", `--override-input: ${source.file.split("/").pop() ?? "the fleet file"} takes no ${PINS_ARGUMENT} argument, so the override would be ignored`, {
      exitCode: 2,
      hint: `start the fleet file with { ${PINS_ARGUMENT} ? "{}", ... }: and merge builtins.fromJSON ${PINS_ARGUMENT} over the pin file`,
    });
  }
  return { ...source, argstr: { ...(source.argstr ?? {}), [PINS_ARGUMENT]: JSON.stringify(replaced) } };
}
