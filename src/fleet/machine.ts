import { z } from "zod";
import { describeIssues } from "./issues.js";
import { FleetConfigError, parseTomlFile } from "./toml.js";
import { hostNameSchema } from "./names.js";
import { retentionSchema } from "./retention.js";
import { healthSchema, publicKeySchema } from "./machine-schemas.js";
import { MACHINE_FILE } from "./machine-values.js";

export { MACHINE_FILE } from "./machine-values.js";

/**
 * The machine's own oscd settings (`/etc/oscd/machine.toml`, written by the NixOS module):
 * which fleet repository it follows, its name there, and what it trusts. Fleet-wide choices
 * (hosts, health, release policy) live in the fleet's oscd.toml, versioned with the release.
 * What it trusts is checked when it is loaded: a key that cannot verify anything would only
 * show up later as every release being refused.
 */
export const machineSchema = z
  .object({
    host: hostNameSchema.optional(),
    remote: z.string().optional(),
    tagPrefix: z.string().default("v"),
    substituters: z.array(z.string()).default([]),
    trustedPublicKeys: z.array(publicKeySchema).default([]),
    /**
     * The fleet's first trust root (`oscd trust init`), installed with the machine: where its
     * trust starts when it has not persisted one yet. Without it, `trustedPublicKeys` are the
     * machine's implicit root (docs/trust.md).
     */
    trustRoot: z.string().regex(/^\//, "an absolute path").optional(),
    health: healthSchema.partial().optional(),
    /** Generations kept after each committed deployment and by `oscd gc` (see retention.ts). */
    retention: retentionSchema.optional(),
    /**
     * Commit signing keys for `oscd upgrade` (as the agent's): when any is set, only a commit
     * signed by one of them is built and activated.
     */
    allowedSignersPath: z.string().startsWith("/", "an absolute path").optional(),
    gpgPublicKeyPaths: z.array(z.string().startsWith("/", "an absolute path")).optional(),
    /** Every commit since the running release's, not only the new one, must be signed by those keys. */
    requireSignedHistory: z.boolean().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.requireSignedHistory && !c.allowedSignersPath && !c.gpgPublicKeyPaths?.length) {
      ctx.addIssue({ code: "custom", path: ["requireSignedHistory"], message: "signed history needs the keys to check it with: set allowedSignersPath or gpgPublicKeyPaths" });
    }
  });
export type MachineConfig = z.infer<typeof machineSchema>;

/** Parses and validates machine.toml text; `name` (the file) is used in errors. */
export function parseMachineConfig(text: string, name = MACHINE_FILE): MachineConfig {
  return machineConfigOf(parseTomlFile(text, name), name);
}

/** machine.toml's parsed TOML validated by machineSchema; `name` (the file) is used in errors. */
export function machineConfigOf(raw: unknown, name = MACHINE_FILE): MachineConfig {
  const r = machineSchema.safeParse(raw);
  if (!r.success) throw new FleetConfigError(name, describeIssues(r.error.issues));
  return r.data;
}
