// Values machine.toml's schemas (machine-schemas.ts, machine.ts) and its plain check
// (machine-check.ts) share, in a module of its own that imports nothing.

export const MACHINE_FILE = "/etc/oscd/machine.toml";

/** The activation modes (operationSchema). */
export const OPERATIONS = ["switch", "boot", "test", "dry-activate"] as const;

/** healthSchema's defaults (and httpProbeSchema's status). */
export const HEALTH_DEFAULTS = { systemdUnits: true, timeoutSeconds: 30, retries: 3, retryDelaySeconds: 2, httpStatus: 200 } as const;
