import { z } from "zod";
import { hostNameSchema, namedTable } from "./names.js";

/**
 * Secrets a push deploy uploads to a host (`[hosts.<name>.keys.<key>]`, colmena's "keys"):
 * the content comes from a file or a command on the deployer (or text, which is committed
 * with the fleet file, so it lands in git and in the source snapshot: prefer the others). It
 * travels on SSH's standard input, never in the Nix store, process arguments or logs.
 */
const POSIX_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** How a key lands on the host; the host's `oscd deploy-target put-keys` checks the same rules. */
export const keyFileSchemas = {
  /** Absolute path on the host (default /run/keys/<key>). */
  destination: z
    .string()
    .regex(/^\/[A-Za-z0-9._/@+-]+$/, "an absolute path of letters, digits and ._/@+-")
    .refine((p) => !p.split("/").includes(".."), "no '..' in the path"),
  owner: z.string().regex(POSIX_NAME, "a user name"),
  group: z.string().regex(POSIX_NAME, "a group name"),
  mode: z.string().regex(/^0?[0-7]{3}$/, "an octal mode such as 0400"),
};

export const secretSchema = z
  .object({
    text: z.string().optional(),
    /** A file on the deployer; relative paths are relative to the fleet checkout. */
    file: z.string().min(1).optional(),
    /** A command run on the deployer (argument array); its standard output is the secret. */
    command: z.array(z.string()).min(1).optional(),
    destination: keyFileSchemas.destination.optional(),
    owner: keyFileSchemas.owner.default("root"),
    group: keyFileSchemas.group.default("root"),
    mode: keyFileSchemas.mode.default("0400"),
    /** Uploaded before the activation (default) or after it succeeded. */
    upload: z.enum(["before", "after"]).default("before"),
  })
  .strict()
  .refine((s) => [s.text, s.file, s.command].filter((x) => x !== undefined).length === 1, "a key has exactly one of text, file or command");
export type SecretConfig = z.infer<typeof secretSchema>;

/** Key names become file names under /run/keys: the host-name rule. */
export const secretsSchema = namedTable(hostNameSchema, secretSchema);
