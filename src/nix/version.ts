import { accessSync, constants, realpathSync } from "node:fs";
import { delimiter, join } from "node:path";
import { OscdError } from "../core/errors.js";
import { nixRun, type NixCallOptions } from "./command.js";

/**
 * Which Nix implementation answered `nix --version`. Lix forked from Nix 2.18 and numbers its
 * releases 2.90 and up, so its number says nothing about which Nix interface it follows:
 * what oscd may ask of it is decided by `features`, never by comparing numbers across flavours.
 */
export type NixFlavour = "nix" | "lix" | "determinate";

export interface NixVersion {
  flavour: NixFlavour;
  /** The version of the Nix (or Lix) interface, e.g. 2.24.14 for Nix, 2.93.2 for Lix. */
  major: number;
  minor: number;
  patch: number;
  /** `major.minor.patch`. */
  text: string;
  /** The first line `nix --version` printed, as printed (pre-release suffixes included). */
  raw: string;
}

export const SUPPORTED_NIX = "Nix 2.8 through 2.35, Lix 2.90 and later";

const VERSION = String.raw`(\d+)\.(\d+)(?:\.(\d+))?`;
// `nix (Nix) 2.24.14`, `nix (Nix) 2.26.0pre20241203_dirty`, `nix-store (Nix) 2.8.0`.
const NIX = new RegExp(String.raw`\(Nix\)\s+${VERSION}`);
// `nix (Lix, like Nix) 2.91.1`, `nix (Lix, like Nix) 2.94.0-dev-pre20250601-abcdef0`.
const LIX = new RegExp(String.raw`\(Lix, like Nix\)\s+${VERSION}`);
// `nix (Determinate Nix 3.8.2) 2.30.1`: the second number is the Nix it is built on.
const DETERMINATE = new RegExp(String.raw`\(Determinate Nix [^)]*\)\s+${VERSION}`);

export class NixVersionUnknownError extends OscdError {
  constructor(output: string) {
    super("nix-version-unknown", `cannot read the Nix version from ${JSON.stringify(output.trim().split("\n")[0]?.slice(0, 120) ?? "")}`, {
      hint: `oscd supports ${SUPPORTED_NIX}; check that \`nix --version\` runs and prints e.g. "nix (Nix) 2.24.14"`,
    });
  }
}

export function parseNixVersion(output: string): NixVersion {
  const raw = output.trim().split("\n")[0]?.trim() ?? "";
  const pick = (flavour: NixFlavour, m: RegExpExecArray): NixVersion => {
    const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
    return { flavour, major, minor, patch, text: `${major}.${minor}.${patch}`, raw };
  };
  const lix = LIX.exec(raw);
  if (lix) return pick("lix", lix);
  const det = DETERMINATE.exec(raw);
  if (det) return pick("determinate", det);
  const nix = NIX.exec(raw);
  if (nix) return pick("nix", nix);
  // A build that names itself otherwise but prints a plain version is read as Nix.
  const plain = new RegExp(String.raw`^\S+\s+(?:\([^)]*\)\s+)?${VERSION}`).exec(raw);
  if (plain) return pick("nix", plain);
  throw new NixVersionUnknownError(output);
}

export function atLeast(v: NixVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/** `Nix 2.24.14`, `Lix 2.93.2`, `Determinate Nix (Nix 2.30.1)`: for messages. */
export function describeNix(v: NixVersion | undefined): string {
  if (!v) return "an unknown Nix version";
  if (v.flavour === "lix") return `Lix ${v.text}`;
  if (v.flavour === "determinate") return `Determinate Nix (Nix ${v.text})`;
  return `Nix ${v.text}`;
}

/** How `nix path-info --json` answers: see pathinfo-json.ts for each shape. */
export type PathInfoJson = "array" | "object" | "format-flag";

/** What oscd asks of this Nix, by the release that changed it (Lix follows Nix 2.18 plus its own). */
export interface NixFeatures {
  /** `nix-build`/`nix build --print-out-paths`. */
  printOutPaths: boolean;
  /**
   * 2.8–2.18 and Lix: an array of entries with `path` (and `valid: false`); 2.19–2.32: an object
   * keyed by store path, `null` for an invalid one; 2.33 on: that object too, but without
   * `--json-format N` Nix warns that the flag will become required, so oscd passes it.
   */
  pathInfoJson: PathInfoJson;
  /** `nix show-config` became `nix config show` in Nix 2.20 (Lix has both). */
  configShow: readonly string[];
  /** `nix store ping` became `nix store info` in Nix 2.19 (Lix keeps `ping`). */
  storeInfo: readonly string[];
  /** Nix 2.19 and Lix: `nix flake update NAME… --flake REF`; before: `nix flake lock --update-input NAME`. */
  flakeUpdateTakesInputs: boolean;
}

export function features(v: NixVersion): NixFeatures {
  const lix = v.flavour === "lix";
  return {
    printOutPaths: lix || atLeast(v, 2, 8),
    pathInfoJson: lix ? "array" : atLeast(v, 2, 33) ? "format-flag" : atLeast(v, 2, 19) ? "object" : "array",
    configShow: lix || atLeast(v, 2, 20) ? ["config", "show"] : ["show-config"],
    storeInfo: !lix && atLeast(v, 2, 19) ? ["store", "info"] : ["store", "ping"],
    flakeUpdateTakesInputs: lix || atLeast(v, 2, 19),
  };
}

/** The Nix oscd runs: its version and the file `nix` resolves to on the PATH it is run with. */
export interface FoundNix {
  version: NixVersion;
  /** The `nix` found on PATH, and the file it resolves to (a store path on NixOS). */
  path: string | undefined;
  realPath: string | undefined;
}

/** The first executable `name` on `pathVar`, as the shell would find it. */
export function whichOnPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The `nix` on the PATH a call runs with, and the file it resolves to. */
export function locateNix(opts: NixCallOptions = {}): { path: string | undefined; realPath: string | undefined } {
  const pathVar = opts.env && "PATH" in opts.env ? opts.env.PATH : process.env.PATH;
  const path = whichOnPath("nix", pathVar);
  let realPath: string | undefined;
  try {
    realPath = path ? realpathSync(path) : undefined;
  } catch {
    realPath = undefined;
  }
  return { path, realPath };
}

/**
 * Asked once per Nix binary: the key is the file `nix` resolves to, so a long-running agent
 * whose system switched to another Nix (a new store path behind /run/current-system/sw/bin)
 * asks the new one, while every call in between costs two file-system lookups, not a process.
 */
const cache = new Map<string, Promise<NixVersion>>();

export async function nixVersion(opts: NixCallOptions = {}): Promise<NixVersion> {
  return (await findNix(opts)).version;
}

export async function findNix(opts: NixCallOptions = {}): Promise<FoundNix> {
  const where = locateNix(opts);
  const key = where.realPath ?? where.path ?? "?";
  let p = cache.get(key);
  if (!p) {
    p = askVersion(opts);
    cache.set(key, p);
    // A failure is not remembered: the next call asks again.
    p.catch(() => cache.delete(key));
  }
  return { version: await p, ...where };
}

async function askVersion(opts: NixCallOptions): Promise<NixVersion> {
  const r = await nixRun("nix", ["--version"], { timeoutMs: 30_000, ...opts, settings: undefined });
  if (r.exitCode !== 0) throw new OscdError("nix-broken", `nix --version exited ${r.exitCode}`, { hint: "check the Nix installation" });
  return parseNixVersion(r.stdout);
}

/** Forgets what was learned about installed Nix binaries (tests that swap PATH). */
export function forgetNixVersions(): void {
  cache.clear();
}
