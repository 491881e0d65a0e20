import { z } from "zod";
import { SSH_TARGET_PATTERN } from "./ssh-target.js";
import { channelNameSchema, hostNameSchema, namedTable } from "./names.js";
import { secretsSchema } from "./secrets.js";
import { channelRolloutSchema } from "./rollout.js";
import { healthSchema, operationSchema, publicKeySchema } from "./machine-schemas.js";

export { healthSchema, httpProbeSchema, operationSchema, publicKeySchema, type HealthConfig, type Operation } from "./machine-schemas.js";

/**
 * The fleet file, `oscd.toml` at the root of the fleet repository. Every field has a default
 * so a fleet with a flake and nothing else works; unknown keys are errors (typos must not be
 * silently ignored in a file that decides what machines run).
 */
const storeUrl = z
  .string()
  .regex(/^(file|ssh|ssh-ng|http|https|s3):\/\//, "a store URL starts with file://, ssh://, ssh-ng://, http(s):// or s3://")
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  .regex(/^[^\s\u0000-\u001f\u007f]+$/, "a store URL has no spaces or control characters");
/** An SSH target, `[user@]address[:port]` (`ssh-target.ts`): passed to ssh as arguments, never to a shell. */
const sshTarget = z
  .string()
  .regex(SSH_TARGET_PATTERN, "an SSH target looks like root@web1.example.org, web1, deploy@10.0.0.5:2222 or root@[fd00::7]:2222 (IPv6 in brackets, port 1 to 65535, no leading '-', no spaces)");
/** Tags are `<prefix><version>`: a prefix git accepts in a ref name and that no option parser takes for a flag. */
const tagPrefix = z.string().max(50).regex(/^(?:[A-Za-z0-9_][A-Za-z0-9._/-]*)?$/, "a tag prefix has letters, digits, '.', '_', '/' and '-', not starting with '-', '.' or '/'").refine((p) => !p.includes("..") && !p.includes("//"), "a tag prefix has no '..' or '//'");
const seconds = z.number().int().positive();

/** Why `path` is not a usable version file path inside the repository, or undefined. */
export function versionFileProblem(path: string): string | undefined {
  if (path === "") return "it is empty";
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(path)) return "it has a control character";
  if (/^(?:[/\\]|[A-Za-z]:)/.test(path)) return "it must be a path relative to the repository root";
  const parts = path.split(/[/\\]/);
  if (parts.includes("..")) return "it must not contain `..`";
  if (parts.includes(".git")) return "it must not be inside .git";
  if (parts.at(-1) === "" || parts.at(-1) === ".") return "it must name a file, not a directory";
  return undefined;
}

const versionFile = z.string().superRefine((path, ctx) => {
  const p = versionFileProblem(path);
  if (p !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: p });
});


/** A MAC address as iPXE's `${net0/mac}` writes it: six lowercase hex pairs with colons (upper case is lowered). */
const macAddress = z
  .string()
  .transform((m) => m.toLowerCase())
  .pipe(z.string().regex(/^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/, "a MAC address looks like 52:54:00:12:34:56"));
/** An attribute path template of images (letters, digits, `.`, `_`, `-`, `'`, `{host}`, `{format}`). */
const imageAttribute = z.string().regex(/^(?:[A-Za-z0-9_.'-]|\{host\}|\{format\})+$/, "an attribute path such as nixosConfigurations.{host}.config.system.build.images");

export const hostSchema = z
  .object({
    tags: z.array(z.string()).default([]),
    /** Attribute path of the toplevel; `{host}` is replaced by the host name. */
    attribute: z.string().optional(),
    system: z.string().optional(),
    /** SSH target for push deploys, e.g. root@web1.example.org, deploy@10.0.0.5:2222 or root@[fd00::7]:2222. */
    ssh: sshTarget.optional(),
    /** The oscd command on this host for push deploys, words separated by spaces (default: oscd, or --remote-oscd). */
    oscd: z
      .string()
      .regex(/^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/, "a command of printable words separated by single spaces")
      .refine((c) => !c.startsWith("-"), "a command, not an option")
      .optional(),
    machineId: z.string().regex(/^[0-9a-f]{32}$/, "a machine id is 32 lowercase hex digits").optional(),
    health: healthSchema.partial().optional(),
    /** Secrets oscd deploy uploads to this host (see secrets.ts). */
    keys: secretsSchema.optional(),
    /** Attribute path of this host's image set, or of one image with `{format}` (oscd image); `{host}` is replaced. */
    images: imageAttribute.optional(),
    /** Netboot identity: the MAC address the server knows this host by (oscd server, netboot). */
    netboot: z.object({ mac: macAddress.optional() }).strict().optional(),
  })
  .strict();
export type HostConfig = z.infer<typeof hostSchema>;

export const releaseSchema = z
  .object({
    branch: z.string().default("main"),
    versionFile: versionFile.default("VERSION"),
    tagPrefix: tagPrefix.default("v"),
    labels: z
      .object({
        major: z.string().default("release:major"),
        minor: z.string().default("release:minor"),
        patch: z.string().default("release:patch"),
      })
      .strict()
      .default({}),
    /** `sequential`: major → minor → patch, one tag each (the RFC); `highest`: only the highest. */
    strategy: z.enum(["sequential", "highest"]).default("sequential"),
  })
  .strict();
export type ReleaseConfig = z.infer<typeof releaseSchema>;

export const channelSchema = z
  .object({
    /** Accepted; not read (publish takes --ref). */
    branch: z.string().optional(),
    /** Accepted; not read (the agent's manifest.operation decides). */
    operation: operationSchema.default("switch"),
    /** The channel's rollout plan on the control server (rollout.ts). */
    rollout: channelRolloutSchema.optional(),
  })
  .strict();

/** `oscd update`: the fleet's own checks, run on every input update after the hosts are built. */
export const updateSchema = z
  .object({
    /** Commands as argument arrays, run in the updated commit's read-only snapshot; exit 0 = passed. */
    checks: z.array(z.array(z.string()).min(1)).default([]),
    /** Build the flake's `checks.<system>.*` too (NixOS tests). */
    flakeChecks: z.boolean().default(true),
    timeoutSeconds: seconds.default(1800),
    /** The pin file of a classic layout: input name → { url, rev, ref }. */
    pinFile: versionFile.default("pins.json"),
  })
  .strict();
export type UpdateConfig = z.infer<typeof updateSchema>;

export const fleetSchema = z
  .object({
    fleet: z
      .object({
        name: z.string().default("fleet"),
        /** `flake` (nixosConfigurations) or `classic` (a file and attribute paths). */
        layout: z.enum(["flake", "classic"]).optional(),
        /** Classic layout: the Nix file, relative to the repository root. */
        file: z.string().default("default.nix"),
        /** Default attribute path template for every host. */
        attribute: z.string().optional(),
        system: z.string().default("x86_64-linux"),
        /** Default attribute path of each host's image set (oscd image); `{host}` and `{format}` are replaced. */
        images: imageAttribute.optional(),
        /** Where machines fetch the fleet repository from (oscd upgrade, the agent). */
        remote: z.string().optional(),
      })
      .strict()
      .default({}),
    release: releaseSchema.default({}),
    keys: z.object({ trusted: z.array(publicKeySchema).default([]) }).strict().default({}),
    caches: z.array(storeUrl).default([]),
    channels: namedTable(channelNameSchema, channelSchema).default({ main: { operation: "switch" } }),
    health: healthSchema.default({}),
    hosts: namedTable(hostNameSchema, hostSchema).default({}),
    update: updateSchema.default({}),
  })
  .strict();

export type FleetFile = z.infer<typeof fleetSchema>;
export type ChannelConfig = z.infer<typeof channelSchema>;

export const DEFAULT_ATTRIBUTE = {
  flake: "nixosConfigurations.{host}.config.system.build.toplevel",
  classic: "{host}",
} as const;
