import { join } from "node:path";
import { OscdError } from "../core/errors.js";
import { hostAttribute, type Fleet } from "../fleet/index.js";
import { addRoot, instantiate, instantiateWithOverrides, realiseDerivations, type NixSource } from "../nix/index.js";
import type { PinnedSource } from "../source/index.js";

export interface HostBuild {
  toplevel: string;
  drvPath: string;
  attr: string;
}

/**
 * Builds one host's toplevel from a pinned snapshot on this machine (what nixos-rebuild does),
 * substituting what the caches have; the result is rooted before the build starts.
 */
export async function buildHost(fleet: Fleet, pinned: PinnedSource, host: string, opts: { overrideInputs?: Record<string, string>; settings?: Record<string, string>; rootDir?: string; onLog?: (l: string) => void }): Promise<HostBuild> {
  const attr = hostAttribute(fleet, host);
  const overrides = opts.overrideInputs ?? {};
  const nixOpts = { settings: opts.settings, onLog: opts.onLog };
  let drv;
  if (Object.keys(overrides).length > 0) {
    if (fleet.layout !== "flake") throw new OscdError("override-needs-flake", "--override-input works with a flake fleet only", { exitCode: 2, hint: "classic fleets pin their package sets in Nix; change the pin in a branch instead" });
    drv = await instantiateWithOverrides(pinned.snapshot.flakeRef, attr, overrides, nixOpts);
  } else {
    const source: NixSource = fleet.layout === "flake" ? { kind: "flake", flakeRef: pinned.snapshot.flakeRef } : { kind: "file", file: join(pinned.snapshot.storePath, fleet.config.fleet.file) };
    [drv] = await instantiate(source, [attr], nixOpts);
  }
  if (!drv) throw new OscdError("eval-empty", `evaluating ${attr} gave no derivation`);
  // Rooted before it exists, so a garbage collection during the build cannot take it.
  await addRoot(drv.outPath, "upgrade-build", opts.rootDir);
  await realiseDerivations([drv.drvPath], nixOpts, `building ${host} (${attr})`);
  return { toplevel: drv.outPath, drvPath: drv.drvPath, attr };
}
