import { OscdError, UsageError } from "../core/errors.js";

/** An option path that the host's configuration does not have (exit 2); names the nearest existing names. */
export class OptionNotFoundError extends OscdError {
  constructor(
    readonly path: string,
    readonly existing: string,
    readonly suggestions: readonly string[],
  ) {
    super("option-not-found", `the configuration has no ${JSON.stringify(path)}${existing ? ` (${JSON.stringify(existing)} exists)` : ""}`, {
      exitCode: 2,
      hint: suggestions.length > 0 ? `did you mean ${suggestions.map((s) => JSON.stringify(s)).join(", ")}?` : "list what exists one level up with the parent path",
    });
  }
}

/** A host the fleet does not have at that ref (exit 2). */
export class UnknownHostError extends OscdError {
  constructor(host: string, ref: string, suggestions: readonly string[]) {
    super("inspect-unknown-host", `the fleet at ${ref} has no host ${JSON.stringify(host)}`, {
      exitCode: 2,
      hint: suggestions.length > 0 ? `did you mean ${suggestions.map((s) => JSON.stringify(s)).join(", ")}?` : "check the host name against oscd.toml and nixosConfigurations",
    });
  }
}

/** The host's toplevel attribute does not sit inside a NixOS configuration, so there is no `config` to read. */
export class NoConfigAttributeError extends UsageError {
  constructor(attribute: string) {
    super(
      `the host's attribute ${JSON.stringify(attribute)} does not end in .system.build.toplevel, so its configuration cannot be found`,
      "set hosts.<name>.attribute (or fleet.attribute) in oscd.toml to <configuration>.config.system.build.toplevel",
      "option-no-config",
    );
  }
}

/** An option path that is not one (empty parts, control characters). */
export class BadOptionPathError extends UsageError {
  constructor(path: string) {
    super(`${JSON.stringify(path)} is not an option path`, "e.g. services.nginx.enable or networking.hostName", "option-bad-path");
  }
}

/** A host's toplevel could not be evaluated or built at one side of a diff (exit 1). */
export class DiffBuildError extends OscdError {
  constructor(host: string, side: string, cause: OscdError | undefined) {
    super("diff-build-failed", `${host} at ${side} did not build: ${cause?.message ?? "no toplevel"}`, {
      hint: "run oscd build --ref <ref> --on <host> to see the failure",
      cause,
    });
  }
}

/** --from/--to names neither a ref, a generation nor a store path (exit 2). */
export class DiffEndpointError extends UsageError {
  constructor(value: string, why: string) {
    super(`${JSON.stringify(value)}: ${why}`, "give a git ref (tag, branch, commit), a generation number or a store path", "diff-bad-endpoint");
  }
}
