import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { OscdError } from "../core/errors.js";
import { nixOk, type NixCallOptions } from "./command.js";
import { generationLink } from "./generation-link.js";
import { assertStorePath } from "./storepath.js";

export const SYSTEM_PROFILE = "/nix/var/nix/profiles/system";

export interface Generation {
  number: number;
  storePath: string;
  /** When the generation link was made. */
  createdAt: Date;
  current: boolean;
  link: string;
}

export class NoSuchGenerationError extends OscdError {
  constructor(profile: string, generation: number | string) {
    super("no-such-generation", `profile ${profile} has no generation ${generation}`, {
      hint: "list them with `oscd generations`",
      exitCode: 2,
    });
  }
}

/** Nix's profiles directory: the garbage collector reads every link under it as a root. */
export const PROFILES_DIR = "/nix/var/nix/profiles";

/**
 * Points the profile at a new generation for `storePath`, as `nix-env -p P --set` does: a link
 * `P-N-link` → storePath (N one more than the newest generation; no new generation when the
 * newest already is storePath), then `P` → `P-N-link`, replaced atomically.
 *
 * For a profile under Nix's profiles directory (the system profile) oscd makes the two links
 * itself: the collector reads that directory as roots by itself, so nix-env's only other work
 * (an indirect root in gcroots/auto, registering a path the caller has already realised and
 * rooted) adds nothing, and nix-env costs a process start of ~40 ms of CPU, more than the
 * whole rest of the engine's own work per deployment (bench/agent.ts). A generation link is
 * created with symlink(2), which fails on an existing name: a nix-env running at the same time
 * cannot have its generation replaced, the next number is taken instead. Any other profile, or
 * a caller's own Nix environment or settings, goes through nix-env.
 */
export async function setProfile(storePath: string, profile = SYSTEM_PROFILE, opts: NixCallOptions = {}): Promise<void> {
  assertStorePath(storePath);
  if (linksAreRoots(profile, opts)) {
    // Its own module: `oscd status` loads this one and needs none of it.
    const { setProfileLinks } = await import("./profile-links.js");
    return setProfileLinks(storePath, profile);
  }
  await nixOk("nix-env", ["-p", profile, "--set", storePath], { timeoutMs: 120_000, ...opts }, "nix-profile-failed", `setting ${profile} to ${storePath}`);
}

/** The profile's links are garbage-collector roots without nix-env's help (see setProfile). */
export function linksAreRoots(profile: string, opts: NixCallOptions = {}): boolean {
  if (opts.env !== undefined || opts.settings !== undefined) return false;
  // Another state directory has profiles of its own that this one's collector does not read.
  const stateDir = process.env.NIX_STATE_DIR;
  if (stateDir !== undefined && resolve(stateDir) !== dirname(PROFILES_DIR)) return false;
  const dir = dirname(resolve(profile));
  return dir === PROFILES_DIR || dir.startsWith(`${PROFILES_DIR}/`);
}

/**
 * The profile's generations, oldest first. Read from the `<profile>-N-link` symlinks, as
 * nix-env does, because `--list-generations` prints local time without a zone.
 */
export async function listGenerations(profile = SYSTEM_PROFILE): Promise<Generation[]> {
  const dir = dirname(profile);
  const base = basename(profile);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  let currentLink: string | undefined;
  try {
    currentLink = readlinkSync(profile);
  } catch {
    currentLink = undefined;
  }
  const pattern = generationLink(base);
  const gens: Generation[] = [];
  for (const e of entries) {
    const m = pattern.exec(e);
    if (!m) continue;
    const link = join(dir, e);
    try {
      const target = readlinkSync(link);
      const st = lstatSync(link);
      gens.push({ number: Number(m[1]), storePath: target, createdAt: st.mtime, current: currentLink === e || currentLink === link, link });
    } catch {
      // A link removed while we read is simply not listed.
    }
  }
  return gens.sort((a, b) => a.number - b.number);
}

/**
 * The store paths of the profile's generations, in no particular order: their links read
 * synchronously, without listGenerations' lstat and promise per generation (the engine's /boot
 * check reads them on every deployment, and a long-lived host has hundreds).
 */
export function generationStorePaths(profile = SYSTEM_PROFILE): string[] {
  const dir = dirname(profile);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const pattern = generationLink(basename(profile));
  const out: string[] = [];
  for (const e of entries) {
    if (!pattern.test(e)) continue;
    try {
      out.push(readlinkSync(join(dir, e)));
    } catch {
      // A link removed while we read is simply not listed.
    }
  }
  return out;
}

/**
 * The generation the profile points at: read from its two links alone (the engine asks before
 * and after every deployment, and a long-lived host has hundreds of generations to list).
 * Synchronous: three calls of a few microseconds each.
 */
export async function currentGeneration(profile = SYSTEM_PROFILE): Promise<Generation | undefined> {
  const dir = dirname(profile);
  let name: string;
  try {
    name = readlinkSync(profile);
  } catch {
    return undefined;
  }
  if (dirname(name) !== "." && dirname(name) !== dir) return undefined;
  const m = generationLink(basename(profile)).exec(basename(name));
  if (!m) return undefined;
  const link = join(dir, basename(name));
  try {
    const storePath = readlinkSync(link);
    return { number: Number(m[1]), storePath, createdAt: lstatSync(link).mtime, current: true, link };
  } catch {
    return undefined;
  }
}


export async function switchGeneration(generation: number, profile = SYSTEM_PROFILE, opts: NixCallOptions = {}): Promise<void> {
  const gens = await listGenerations(profile);
  if (!gens.some((g) => g.number === generation)) throw new NoSuchGenerationError(profile, generation);
  await nixOk("nix-env", ["-p", profile, "--switch-generation", String(generation)], { timeoutMs: 60_000, ...opts }, "nix-profile-failed", `switching ${profile} to generation ${generation}`);
}

/** Moves the profile to the generation before the current one; returns it. */
export async function rollbackProfile(profile = SYSTEM_PROFILE, opts: NixCallOptions = {}): Promise<Generation> {
  const gens = await listGenerations(profile);
  const cur = gens.findIndex((g) => g.current);
  const prev = cur > 0 ? gens[cur - 1] : undefined;
  if (!prev) throw new NoSuchGenerationError(profile, "before the current one");
  await nixOk("nix-env", ["-p", profile, "--rollback"], { timeoutMs: 60_000, ...opts }, "nix-profile-failed", `rolling back ${profile}`);
  return prev;
}

/**
 * Deletes old generations: `{ keep: N }` keeps the newest N (`+N`), `{ olderThan: "30d" }`
 * those older than that, `{ numbers }` exactly those. The current one is never deleted.
 */
export async function deleteGenerations(
  which: { keep: number } | { olderThan: string } | { numbers: number[] },
  profile = SYSTEM_PROFILE,
  opts: NixCallOptions = {},
): Promise<void> {
  let spec: string[];
  if ("keep" in which) {
    if (!Number.isInteger(which.keep) || which.keep < 1) throw new OscdError("bad-retention", "keep must be a whole number of at least 1", { exitCode: 2 });
    spec = [`+${which.keep}`];
  } else if ("olderThan" in which) {
    if (!/^\d+d$/.test(which.olderThan)) throw new OscdError("bad-retention", `olderThan must look like 30d, not ${which.olderThan}`, { exitCode: 2 });
    spec = [which.olderThan];
  } else {
    const cur = await currentGeneration(profile);
    spec = which.numbers.filter((n) => n !== cur?.number).map(String);
    if (spec.length === 0) return;
  }
  await nixOk("nix-env", ["-p", profile, "--delete-generations", ...spec], { timeoutMs: 120_000, ...opts }, "nix-profile-failed", `deleting generations of ${profile}`);
}
