import { parsePublicKey } from "../nix/light.js";
import type { MachineConfig } from "./machine.js";
import type { HealthConfig } from "./machine-schemas.js";
import { HEALTH_DEFAULTS } from "./machine-values.js";
import { HOST_NAME, isReservedName, NAME_MAX } from "./name-rules.js";

/**
 * machine.toml checked without zod, for the commands a machine runs at every start (`oscd
 * activate`): building zod's schemas and parsing with them cost that start more than the rest
 * of the activation with nothing to do. machineSchema (machine.ts) stays the definition: this
 * check only ever says "valid, and this is what machineSchema returns" or "ask machineSchema",
 * which then gives the error (or accepts what this check did not know). Anything it is unsure
 * of (a field it does not handle, a number that is not finite, a value of another type) is
 * left to zod, so a machine file is never taken here that zod refuses, and every message and
 * code stays zod's (test/unit/fleet/machine-check.test.ts compares both on mutated files).
 */

/**
 * What healthSchema.parse returns for machine.toml's health (already checked, by machineSchema
 * or plainMachineConfig): its fields, and the defaults for those it leaves out.
 */
export function fullHealth(h: Partial<HealthConfig> | undefined): HealthConfig {
  return {
    systemdUnits: h?.systemdUnits ?? HEALTH_DEFAULTS.systemdUnits,
    commands: h?.commands ?? [],
    http: h?.http ?? [],
    timeoutSeconds: h?.timeoutSeconds ?? HEALTH_DEFAULTS.timeoutSeconds,
    retries: h?.retries ?? HEALTH_DEFAULTS.retries,
    retryDelaySeconds: h?.retryDelaySeconds ?? HEALTH_DEFAULTS.retryDelaySeconds,
  };
}

/** Thrown inside the check for "not sure": the caller then asks zod. */
const UNSURE = Symbol("unsure");

function sure(ok: boolean): void {
  if (!ok) throw UNSURE;
}

type Table = Record<string, unknown>;

/** A TOML table (no array, date or other object) whose keys are all among `known` (strict, as machineSchema's objects are). */
function table(v: unknown, known: readonly string[]): Table {
  const proto: unknown = typeof v === "object" && v !== null ? Object.getPrototypeOf(v) : undefined;
  sure(proto === Object.prototype || proto === null);
  for (const k of Object.keys(v as Table)) sure(known.includes(k));
  return v as Table;
}

const has = (t: Table, k: string) => Object.hasOwn(t, k);

function str(v: unknown): string {
  sure(typeof v === "string");
  return v as string;
}

function bool(v: unknown): boolean {
  sure(typeof v === "boolean");
  return v as boolean;
}

/** A finite number within [min, max], an integer when `int`. */
function num(v: unknown, min: number, max: number, int: boolean): number {
  sure(typeof v === "number" && Number.isFinite(v) && v >= min && v <= max && (!int || Number.isInteger(v)));
  return v as number;
}

function strings(v: unknown, each: (s: string) => boolean = () => true): string[] {
  sure(Array.isArray(v));
  return (v as unknown[]).map((s) => {
    const t = str(s);
    sure(each(t));
    return t;
  });
}

/** publicKeySchema: `name:base64` of a 32-byte key. */
function publicKey(s: string): boolean {
  if (!/^[^:]+:/.test(s)) return false;
  try {
    parsePublicKey(s);
    return true;
  } catch {
    return false;
  }
}

/** httpProbeSchema: the URL must parse, as zod's url check asks. */
function url(s: string): boolean {
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}

const HEALTH_KEYS = ["systemdUnits", "commands", "http", "timeoutSeconds", "retries", "retryDelaySeconds"] as const;

/** healthSchema.partial(): the fields given, none added (zod adds defaults only inside http entries). */
function health(v: unknown): Partial<HealthConfig> {
  const t = table(v, HEALTH_KEYS);
  const out: Partial<HealthConfig> = {};
  if (has(t, "systemdUnits")) out.systemdUnits = bool(t.systemdUnits);
  if (has(t, "commands")) {
    sure(Array.isArray(t.commands));
    out.commands = (t.commands as unknown[]).map((c) => {
      const argv = strings(c);
      sure(argv.length >= 1);
      return argv;
    });
  }
  if (has(t, "http")) {
    sure(Array.isArray(t.http));
    out.http = (t.http as unknown[]).map((p) => {
      const probe = table(p, ["url", "status", "contains"]);
      const u = str(probe.url);
      sure(url(u));
      const status = has(probe, "status") ? num(probe.status, 100, 599, true) : HEALTH_DEFAULTS.httpStatus;
      return has(probe, "contains") ? { url: u, status, contains: str(probe.contains) } : { url: u, status };
    });
  }
  if (has(t, "timeoutSeconds")) out.timeoutSeconds = num(t.timeoutSeconds, Number.MIN_VALUE, Infinity, true);
  if (has(t, "retries")) out.retries = num(t.retries, 0, Infinity, true);
  if (has(t, "retryDelaySeconds")) out.retryDelaySeconds = num(t.retryDelaySeconds, 0, Infinity, false);
  return out;
}

/** retentionSchema, its fields in the schema's order (as zod builds the object). */
function retention(v: unknown): NonNullable<MachineConfig["retention"]> {
  const t = table(v, ["keepGenerations", "keepDays", "collectGarbage", "maxFreedMiB"]);
  const out: Table = {};
  if (has(t, "keepGenerations")) out.keepGenerations = num(t.keepGenerations, 1, 100_000, true);
  if (has(t, "keepDays")) out.keepDays = num(t.keepDays, 0, 36_500, false);
  out.collectGarbage = has(t, "collectGarbage") ? bool(t.collectGarbage) : false;
  if (has(t, "maxFreedMiB")) out.maxFreedMiB = num(t.maxFreedMiB, 1, 1 << 30, true);
  return out as NonNullable<MachineConfig["retention"]>;
}

const MACHINE_KEYS = [
  "host",
  "remote",
  "tagPrefix",
  "substituters",
  "trustedPublicKeys",
  "trustRoot",
  "health",
  "retention",
  "allowedSignersPath",
  "gpgPublicKeyPaths",
  "requireSignedHistory",
] as const;

/**
 * What machineSchema.parse returns for `raw` (parsed TOML), the same fields in the same order,
 * when this check is sure `raw` is valid; undefined when it is not sure (then ask zod).
 */
export function plainMachineConfig(raw: unknown): MachineConfig | undefined {
  try {
    const t = table(raw, MACHINE_KEYS);
    const out: Table = {};
    if (has(t, "host")) {
      const host = str(t.host);
      sure(host.length <= NAME_MAX && HOST_NAME.test(host) && !isReservedName(host));
      out.host = host;
    }
    if (has(t, "remote")) out.remote = str(t.remote);
    out.tagPrefix = has(t, "tagPrefix") ? str(t.tagPrefix) : "v";
    out.substituters = has(t, "substituters") ? strings(t.substituters) : [];
    out.trustedPublicKeys = has(t, "trustedPublicKeys") ? strings(t.trustedPublicKeys, publicKey) : [];
    if (has(t, "trustRoot")) {
      out.trustRoot = str(t.trustRoot);
      sure(/^\//.test(out.trustRoot as string));
    }
    if (has(t, "health")) out.health = health(t.health);
    if (has(t, "retention")) out.retention = retention(t.retention);
    if (has(t, "allowedSignersPath")) {
      out.allowedSignersPath = str(t.allowedSignersPath);
      sure((out.allowedSignersPath as string).startsWith("/"));
    }
    if (has(t, "gpgPublicKeyPaths")) out.gpgPublicKeyPaths = strings(t.gpgPublicKeyPaths, (p) => p.startsWith("/"));
    if (has(t, "requireSignedHistory")) out.requireSignedHistory = bool(t.requireSignedHistory);
    // machineSchema's refinement: signed history needs keys to check it with.
    sure(!(out.requireSignedHistory && !out.allowedSignersPath && !(out.gpgPublicKeyPaths as string[] | undefined)?.length));
    return out as MachineConfig;
  } catch (e) {
    if (e === UNSURE) return undefined;
    throw e;
  }
}
