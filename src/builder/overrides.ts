import { OscdError, UsageError } from "../core/errors.js";

/** Flake inputs replaced at evaluation: input name (`nixpkgs`, or a nested `a/b`) → flake reference. */
export type OverrideInputs = Record<string, string>;

const INPUT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_'-]*(?:\/[A-Za-z0-9_][A-Za-z0-9_'-]*)*$/;

/**
 * Parses `--override-input NAME=REF` values (repeatable; a later NAME wins). Names and
 * references become arguments of `nix eval`, so anything Nix could read as an option is refused.
 */
export function parseOverrideInputs(values: readonly string[]): OverrideInputs {
  const out: OverrideInputs = {};
  for (const item of values) {
    const i = item.indexOf("=");
    if (i <= 0 || i === item.length - 1) {
      throw new UsageError(`--override-input ${JSON.stringify(item)} is not NAME=REF`, "e.g. --override-input nixpkgs=github:NixOS/nixpkgs/nixos-unstable");
    }
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  checkOverrideInputs(out);
  return out;
}

/** Refuses input names and references that are not one (exit 2), before any Nix runs. */
export function checkOverrideInputs(overrides: OverrideInputs): void {
  for (const [name, ref] of Object.entries(overrides)) {
    if (!INPUT_NAME.test(name)) {
      throw new UsageError(`--override-input names the input ${JSON.stringify(name)}, which is not an input name`, "name a flake input as flake.nix does (nested inputs as outer/inner)");
    }
    if (ref.startsWith("-") || /[\0\n\r]/.test(ref)) {
      throw new UsageError(`--override-input ${name}=${JSON.stringify(ref)}: not a flake reference`, "e.g. path:/srv/nixpkgs or github:NixOS/nixpkgs/nixos-24.05");
    }
  }
}

/** Overriding inputs needs a flake: a classic fleet pins its package sets in Nix code. */
export function overridesNeedFlake(): OscdError {
  return new OscdError("override-needs-flake", "--override-input works with a flake fleet only", {
    exitCode: 2,
    hint: "classic fleets pin their package sets in Nix; change the pin in a branch instead",
  });
}
