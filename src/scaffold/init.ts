import { mkdir, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { OscdError } from "../core/errors.js";
import { FLEET_FILE, fleetHosts, loadFleet, parseFleetFile, type Fleet } from "../fleet/index.js";
import { defaultBranch } from "../git/index.js";
import { skipLabel, versionFilePath } from "../release/index.js";
import { githubWorkflows, type ScaffoldFile } from "./github.js";
import { HOST_NAME, renderFleetFile } from "./fleet-file.js";
import { nextSteps } from "./next-steps.js";
import { pathExists } from "../core/fs.js";

export type CiKind = "github";
export const CI_KINDS: readonly CiKind[] = ["github"];

export interface InitOptions {
  /** The fleet repository's root. */
  dir: string;
  /** Also write CI workflows. */
  ci?: CiKind;
  /** The release branch; default: origin's default branch, else the checked-out one, else main. */
  branch?: string;
  /** Overwrite files that exist. */
  force?: boolean;
  /** Write nothing: `written` lists what would be written, `files` holds its content. */
  dryRun?: boolean;
  /** Find hosts in nixosConfigurations (flake layout). Default true. */
  discover?: boolean;
  /** The oscd version the CI workflows install. */
  oscdVersion: string;
  /** Binary caches for oscd.toml's `caches` (oscd init --cache). */
  caches?: string[];
  /** Public keys (`name:base64`) for `[keys] trusted` (from --sign-key's key, or --trusted-key). */
  trusted?: string[];
  /** How the next commands name the signing key file and the trusted key (see nextSteps). */
  signKeyFile?: string;
  trustedKeyRef?: string;
}

export interface InitResult {
  dir: string;
  layout: "flake" | "classic";
  /** Hosts written to oscd.toml (those found in nixosConfigurations). */
  hosts: string[];
  /** Names in nixosConfigurations not written because oscd host names cannot have them. */
  skippedHosts: string[];
  written: string[];
  /** With dryRun: each file that would be written, with its content. */
  files?: { path: string; content: string }[];
  /** Files that existed and were left as they were (pass force to overwrite, except the version file). */
  kept: string[];
  /** Why each kept file was kept: `force` overwrites it, or (the version file) nothing ever does. */
  keptReasons: Record<string, string>;
  /** The caches and trusted keys oscd.toml names now. */
  caches: string[];
  trusted: string[];
  /** The three commands to run next: commit, publish, verify as a machine does. */
  next: string[];
}

const KEPT_UNLESS_FORCED = "exists; --force overwrites it";
const KEPT_VERSION_FILE = "exists; a version file is never overwritten";

export class InitDiscoveryError extends OscdError {
  constructor(dir: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message.split("\n")[0] : String(cause);
    super("init-discovery-failed", `cannot list nixosConfigurations of ${dir}: ${detail}`, {
      hint: "check that `nix eval` works for the flake (git add flake.nix: flakes see tracked files only), or pass --no-discover and list hosts by hand",
      exitCode: 2,
      cause,
    });
  }
}


/**
 * `oscd init`: writes oscd.toml (hosts found in the flake's nixosConfigurations), the version
 * file when missing and, with `ci: "github"`, the GitHub Actions workflows. Files that exist
 * are kept unless `force`. An existing oscd.toml is the one the workflows are written for.
 */
export async function initFleet(o: InitOptions): Promise<InitResult> {
  const dir = resolve(o.dir);
  const files: ScaffoldFile[] = [];
  const written: string[] = [];
  const kept: string[] = [];
  const keptReasons: Record<string, string> = {};
  const keep = (path: string, reason: string) => {
    kept.push(path);
    keptReasons[path] = reason;
  };
  const fleetPath = join(dir, FLEET_FILE);
  const layout: "flake" | "classic" = (await pathExists(join(dir, "flake.nix"))) ? "flake" : "classic";

  let fleet: Fleet;
  let hosts: string[] = [];
  let skippedHosts: string[] = [];
  const keepFleetFile = (await pathExists(fleetPath)) && !o.force;
  if (keepFleetFile) {
    fleet = await loadFleet(dir);
    const unwritten = [o.caches?.length ? "--cache" : "", o.trusted?.length ? "the trusted key" : ""].filter(Boolean);
    keep(FLEET_FILE, unwritten.length > 0 ? `exists, so ${unwritten.join(" and ")} not written; --force rewrites it` : KEPT_UNLESS_FORCED);
  } else {
    const release = parseFleetFile("").release;
    release.branch = o.branch ?? (await defaultBranch(dir)) ?? "main";
    fleet = { root: dir, layout, config: { ...parseFleetFile(""), release } };
    if (layout === "flake" && o.discover !== false) {
      try {
        const found = await fleetHosts(fleet, dir);
        hosts = found.map((h) => h.name).filter((n) => HOST_NAME.test(n));
        skippedHosts = found.map((h) => h.name).filter((n) => !HOST_NAME.test(n));
      } catch (e) {
        throw new InitDiscoveryError(dir, e);
      }
    }
    const text = renderFleetFile({ name: basename(dir), layout, release, skipLabel: skipLabel(release.labels), hosts, caches: o.caches, trusted: o.trusted });
    parseFleetFile(text, FLEET_FILE); // what init writes must load
    files.push({ path: FLEET_FILE, content: text });
  }

  const release = fleet.config.release;
  files.push({ path: versionFilePath(release.versionFile), content: "0.1.0\n" });
  if (o.ci === "github") {
    files.push(
      ...githubWorkflows({
        branch: release.branch,
        tagPrefix: release.tagPrefix,
        labels: { ...release.labels, none: skipLabel(release.labels) },
        oscdVersion: o.oscdVersion,
      }),
    );
  }

  const preview: { path: string; content: string }[] = [];
  for (const f of files) {
    const full = join(dir, f.path);
    // The version file is never overwritten: it holds the fleet's current version.
    const isVersion = f.path === versionFilePath(release.versionFile);
    if (f.path !== FLEET_FILE && (await pathExists(full)) && (isVersion || !o.force)) {
      keep(f.path, isVersion ? KEPT_VERSION_FILE : KEPT_UNLESS_FORCED);
      continue;
    }
    if (o.dryRun) preview.push({ path: f.path, content: f.content });
    else {
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, f.content);
    }
    written.push(f.path);
  }
  const config = keepFleetFile ? fleet.config : parseFleetFile(files[0]?.content ?? "", FLEET_FILE);
  const next = nextSteps({
    written,
    versionFile: versionFilePath(release.versionFile),
    signKeyFile: o.signKeyFile,
    trustedKeyRef: o.trustedKeyRef ?? config.keys.trusted[0],
    caches: config.caches,
    channel: Object.hasOwn(config.channels, "main") ? "main" : (Object.keys(config.channels)[0] ?? "main"),
  });
  return { dir, layout: fleet.layout, hosts, skippedHosts, written, ...(o.dryRun ? { files: preview } : {}), kept, keptReasons, caches: config.caches, trusted: config.keys.trusted, next };
}
