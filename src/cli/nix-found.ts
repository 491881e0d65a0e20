import { describeNix, findNixRemembered, SUPPORTED_NIX, type NixFlavour } from "../nix/light.js";

/** Which Nix oscd runs, for `oscd --version --verbose` and `oscd status`. */
export interface NixFoundReport {
  flavour: NixFlavour;
  /** The Nix (or Lix) interface version, `major.minor.patch`. */
  version: string;
  /** What `nix --version` printed. */
  raw: string;
  /** `nix` on PATH, and the file it resolves to. */
  path: string | null;
  realPath: string | null;
}

/** The Nix oscd finds on its PATH (remembered while it is the same file), or why there is none usable. */
export async function nixFound(): Promise<{ nix: NixFoundReport } | { problem: string }> {
  try {
    const f = await findNixRemembered();
    return { nix: { flavour: f.version.flavour, version: f.version.text, raw: f.version.raw, path: f.path ?? null, realPath: f.realPath ?? null } };
  } catch (e) {
    return { problem: e instanceof Error ? e.message : String(e) };
  }
}

/** `Nix 2.24.14 at /usr/bin/nix (→ /nix/store/…/bin/nix)`, or the problem. */
export function nixFoundLine(r: { nix: NixFoundReport } | { problem: string }): string {
  if ("problem" in r) return `not usable: ${r.problem}`;
  const n = r.nix;
  const name = describeNix({ flavour: n.flavour, major: 0, minor: 0, patch: 0, text: n.version, raw: n.raw });
  const where = n.path ? ` at ${n.path}${n.realPath && n.realPath !== n.path ? ` (→ ${n.realPath})` : ""}` : "";
  return `${name}${where}`;
}

/** `oscd --version --verbose`. */
export async function verboseVersion(oscdVersion: string): Promise<string> {
  const found = await nixFound();
  return [`oscd ${oscdVersion}`, `node ${process.versions.node} at ${process.execPath}`, `nix  ${nixFoundLine(found)}`, `     supported: ${SUPPORTED_NIX}`].join("\n") + "\n";
}
