import { z } from "zod";
import { parsePublicKey } from "../nix/light.js";
import { HEALTH_DEFAULTS, OPERATIONS } from "./machine-values.js";

// The schemas a machine's own configuration (machine.ts) and `oscd activate` use, apart from the
// fleet file's (schema.ts, which re-exports them): zod builds every schema when its module is
// imported, and the fleet file's are not needed on a machine at every start.

/** A Nix ed25519 public key, `name:base64` of 32 bytes, with the reason when it is not one. */
export const publicKeySchema = z.string().superRefine((text, ctx) => {
  if (!/^[^:]+:/.test(text)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: "a Nix public key looks like name:base64" });
    return;
  }
  try {
    parsePublicKey(text);
  } catch (e) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: e instanceof Error ? e.message : String(e) });
  }
});

export const operationSchema = z.enum(OPERATIONS);
export type Operation = z.infer<typeof operationSchema>;

export const httpProbeSchema = z
  .object({
    url: z.string().url(),
    status: z.number().int().min(100).max(599).default(HEALTH_DEFAULTS.httpStatus),
    /** Text the body must contain. */
    contains: z.string().optional(),
  })
  .strict();

export const healthSchema = z
  .object({
    /** Fail when systemd reports failed units (only where systemd runs). */
    systemdUnits: z.boolean().default(HEALTH_DEFAULTS.systemdUnits),
    /** Commands run on the host, as argument arrays; exit 0 = healthy. */
    commands: z.array(z.array(z.string()).min(1)).default([]),
    http: z.array(httpProbeSchema).default([]),
    timeoutSeconds: z.number().int().positive().default(HEALTH_DEFAULTS.timeoutSeconds),
    retries: z.number().int().min(0).default(HEALTH_DEFAULTS.retries),
    retryDelaySeconds: z.number().min(0).default(HEALTH_DEFAULTS.retryDelaySeconds),
  })
  .strict();
export type HealthConfig = z.infer<typeof healthSchema>;
