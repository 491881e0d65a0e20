import semver from "semver";
import { posix } from "node:path";
import { versionFileProblem } from "../fleet/index.js";
import { quoteUntrusted } from "../nix/index.js";
import { ReleaseInputError } from "./errors.js";

/**
 * The version file of a fleet repository (default `VERSION`): one semantic version, optionally
 * followed by a line ending, and nothing else.
 */
export interface VersionFileContent {
  version: string;
  /** The line ending after the version ("" when the file has none), kept when rewriting. */
  eol: string;
}

/** A canonical semantic version `X.Y.Z[-pre][+build]`, or undefined (no `v1.2.3`, `1.2`, `=1.2.3`). */
export function canonicalVersion(text: string): string | undefined {
  const v = semver.parse(text);
  if (v === null) return undefined;
  const canonical = v.build.length > 0 ? `${v.version}+${v.build.join(".")}` : v.version;
  return canonical === text ? canonical : undefined;
}

function preview(text: string): string {
  const s = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return JSON.stringify(s);
}

/** Parses version-file text; `where` names the file in errors (e.g. `VERSION at 1a2b3c4`). */
export function parseVersionFile(text: string, where: string): VersionFileContent {
  const m = /^([^\r\n]*?)(\r?\n)?$/.exec(text);
  const version = m?.[1] === undefined ? undefined : canonicalVersion(m[1]);
  if (m === null || version === undefined) {
    throw new ReleaseInputError(
      "release-bad-version",
      `${where} is not a semantic version: ${preview(text)}`,
      "the version file holds one version such as 1.2.3 (no prefix, nothing else); fix it in a commit of its own",
    );
  }
  return { version, eol: m[2] ?? "" };
}

export function formatVersionFile(version: string, eol: string): string {
  return `${version}${eol}`;
}

/**
 * The configured version file as a path inside the repository (forward slashes), or an error
 * when it would leave the repository or is not a file path.
 */
export function versionFilePath(configured: string): string {
  // The fleet file is checked when it is loaded; this also covers configurations built in code.
  const problem = versionFileProblem(configured);
  const p = posix.normalize(configured.replaceAll("\\", "/"));
  if (problem !== undefined || p.startsWith("/") || p === "." || p === ".." || p.startsWith("../") || p.endsWith("/") || p.split("/").includes(".git")) {
    throw new ReleaseInputError(
      "release-bad-config",
      `release.versionFile ${quoteUntrusted(configured)} is not a file inside the repository${problem === undefined ? "" : `: ${problem}`}`,
      'use a path relative to the repository root, e.g. versionFile = "VERSION"',
    );
  }
  return p;
}
