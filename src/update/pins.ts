import { remoteHead, type GitCallOptions } from "../git/index.js";
import { PinFileInvalidError } from "./errors.js";
import type { PinnedInput } from "./flake-lock.js";

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

/** The pins with the named entries (all when none) moved to their remote ref's current commit. */
export async function updatePins(pins: Pins, names: readonly string[], git: GitCallOptions = {}): Promise<Pins> {
  const out: Pins = Object.assign(Object.create(null) as Pins, pins);
  for (const name of names.length > 0 ? names : Object.keys(pins)) {
    const p = pins[name] as Pin;
    out[name] = { ...p, rev: await remoteHead(p.url, p.ref ?? "HEAD", git) };
  }
  return out;
}

/** The pin file as oscd writes it: two-space JSON, keys sorted, a final newline. */
export function formatPins(pins: Pins): string {
  const sorted = Object.fromEntries(Object.keys(pins).sort().map((k) => [k, pins[k]]));
  return `${JSON.stringify(sorted, null, 2)}\n`;
}
