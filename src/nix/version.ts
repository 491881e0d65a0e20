import { OscdError } from "../core/errors.js";
import { nixRun, type NixCallOptions } from "./command.js";

export interface NixVersion {
  major: number;
  minor: number;
  patch: number;
  text: string;
}

export function parseNixVersion(output: string): NixVersion {
  const m = /\(Nix\)\s+(\d+)\.(\d+)(?:\.(\d+))?/.exec(output) ?? /(\d+)\.(\d+)(?:\.(\d+))?/.exec(output);
  if (!m) throw new OscdError("nix-version-unknown", `cannot read the Nix version from ${JSON.stringify(output.trim())}`);
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0), text: `${m[1]}.${m[2]}.${m[3] ?? 0}` };
}

export function atLeast(v: NixVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/** Flags oscd would like to use, by the Nix version that introduced them. */
export function features(v: NixVersion): { printOutPaths: boolean; storeInfoJson: boolean } {
  return { printOutPaths: atLeast(v, 2, 8), storeInfoJson: atLeast(v, 2, 19) };
}

export async function nixVersion(opts: NixCallOptions = {}): Promise<NixVersion> {
  const r = await nixRun("nix", ["--version"], { timeoutMs: 30_000, ...opts });
  if (r.exitCode !== 0) throw new OscdError("nix-broken", `nix --version exited ${r.exitCode}`, { hint: "check the Nix installation" });
  return parseNixVersion(r.stdout);
}
