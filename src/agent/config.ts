import { readFile } from "node:fs/promises";
import { z } from "zod";
import { UsageError } from "../core/errors.js";
import { healthSchema, publicKeySchema, retentionSchema } from "../fleet/index.js";
import { CHANNEL_NAME } from "../manifest/index.js";

/**
 * The agent's configuration: the JSON file the NixOS module writes (`services.oscd.agent.*`),
 * read by `oscd agent --config FILE`. Names follow comin and `system.autoUpgrade` where they
 * mean the same (`hostname`, `machineId`, `remotes[].poller.period`, `branches.main.name`,
 * `gpgPublicKeyPaths`, `postDeploymentCommand`, `exporter.port`, `randomizedDelaySec`,
 * `rebootWindow.lower/upper`, `operation`). Every object is strict: a key the agent does not
 * read is an error naming it (comin once shipped a module key its Go side ignored, which
 * silently turned a timeout into 0 s). Durations are in seconds, as in both of those.
 */

const seconds = z.number().min(0).max(31 * 24 * 3600);
const positiveSeconds = z.number().gt(0).max(31 * 24 * 3600);
const absolutePath = z.string().regex(/^\//, "an absolute path");
const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "a time of day HH:MM (24 h)");
const operation = z.enum(["switch", "boot", "test"]);
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

/** A daily time window, as `system.autoUpgrade.rebootWindow`; upper < lower wraps midnight. */
export const windowSchema = z
  .object({
    lower: clockTime,
    upper: clockTime,
    /** Days the window opens on (the day it opens, for windows that wrap midnight). Default: every day. */
    days: z.array(z.enum(DAYS)).min(1).optional(),
  })
  .strict();
export type TimeWindow = z.infer<typeof windowSchema>;

/**
 * Credentials never go in a URL: a URL is logged, printed by `--check-config` and, written by
 * the NixOS module, readable by every user in the Nix store. A token comes from a file
 * (`server.tokenFile`, `reports.tokenFile`). The message marks the issue for UrlCredentialsError.
 */
const CREDENTIALS_IN_URL = "has credentials in it";

function withoutCredentials(u: string): boolean {
  try {
    const url = new URL(u);
    return url.username === "" && url.password === "";
  } catch {
    // Not a URL: the format rule says so.
    return true;
  }
}

const urlSchema = z
  .string()
  .refine((u) => /^(file|https?):\/\//.test(u), "a file://, http:// or https:// URL")
  .refine(withoutCredentials, CREDENTIALS_IN_URL);
const httpUrlSchema = z
  .string()
  .refine((u) => /^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(u), "an http:// or https:// URL without query or fragment")
  .refine(withoutCredentials, CREDENTIALS_IN_URL);
const channelName = z.string().regex(CHANNEL_NAME, "a channel name has letters, digits, '_' and '-'");

/**
 * The control server (`oscd server`) in one setting: the agent reads its channel's manifest from
 * `{url}/api/v1/channels/{channel}/manifest` and reports to `{url}/api/v1/reports`, sending the
 * host token from `tokenFile` as `Authorization: Bearer` on both, read again for each request.
 */
export const serverSchema = z
  .object({
    /** Base URL of the control server (https, or http on a network you trust with the token). */
    url: httpUrlSchema,
    /**
     * Further servers of the same fleet (several `oscd server` processes on one PostgreSQL),
     * tried in order when the ones before fail: manifests and reports alike, with the same token.
     */
    fallbackUrls: z.array(httpUrlSchema).max(16).optional(),
    /** File holding this host's token (`oscd server token create --host NAME`), never the token itself. */
    tokenFile: absolutePath,
    /** The channel to follow; default manifest.channel, else main. */
    channel: channelName.optional(),
  })
  .strict();

export const manifestSourceSchema = z
  .object({
    /** Manifest URLs of the channel, tried in order (mirrors; after `server` when it is set). */
    urls: z.array(urlSchema).default([]),
    /** Default: server.channel, else main. */
    channel: channelName.optional(),
    operation: operation.default("switch"),
    /** Seconds between polls when the server does not offer long-poll. */
    pollInterval: positiveSeconds.default(60),
    /** Random extra delay added to each poll, up to this many seconds (spreads a fleet's requests). */
    randomizedDelaySec: seconds.default(5),
    /** Seconds a long-poll request asks the server to hold (`?wait=`). 0 turns long-poll off. */
    // Unset: the server says (`oscd server --long-poll-seconds`), else 55.
    longPollSeconds: seconds.max(3600).optional(),
    /** Seconds one request may take (beyond the long-poll wait). */
    timeout: positiveSeconds.default(30),
    /** How far this machine's clock may be off when checking a manifest's expiry. */
    maxClockSkewSeconds: seconds.default(300),
    /** Accept manifests without `expiresAt` (written before expiry existed). Off: they could be replayed for ever. */
    allowNoExpiry: z.boolean().default(false),
    /**
     * Where the channel's trust documents are (trust roots, revocation list), tried in order.
     * Empty: the `trust/` directory beside each manifest URL (docs/trust.md).
     */
    trustUrls: z.array(urlSchema).default([]),
  })
  .strict();

const branchSchema = (name: string, op: "switch" | "test") =>
  z
    .object({
      /** Branch name; `{hostname}` is replaced by this machine's name. */
      name: z.string().min(1).default(name),
      operation: operation.default(op),
    })
    .strict()
    .default({});

export const remoteSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "a remote name has letters, digits, '.', '_' and '-'"),
    /** A git URL, or an absolute path (a local remote, watched with file-system events). */
    url: z.string().min(1),
    auth: z.object({ accessTokenPath: absolutePath.optional(), sshDeployKeyPath: absolutePath.optional() }).strict().default({}),
    /** Seconds a fetch may take. */
    timeout: positiveSeconds.default(300),
    poller: z.object({ period: positiveSeconds.default(60) }).strict().default({}),
    branches: z
      .object({
        main: branchSchema("main", "switch"),
        testing: branchSchema("testing-{hostname}", "test"),
      })
      .strict()
      .default({}),
  })
  .strict();

export const agentConfigSchema = z
  .object({
    /** This machine's name in the fleet and in manifests. Default: the kernel host name. */
    hostname: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, "a host name has letters, digits, - and _").optional(),
    /** When set, the toplevel's etc/machine-id must match it, and so must /etc/machine-id. */
    machineId: z.string().regex(/^[0-9a-f]{32}$/, "a machine id is 32 lowercase hex digits").optional(),
    stateDir: absolutePath.default("/var/lib/oscd"),
    /** Public keys (`name:base64`, 32-byte ed25519) trusted for manifests and for the store paths in caches. */
    trustedPublicKeys: z.array(publicKeySchema).default([]),
    /**
     * The fleet's first trust root (oscd trust init), installed with the machine: where its trust
     * starts until it has walked to a newer one. Without it, trustedPublicKeys are the implicit root.
     */
    trustRoot: absolutePath.optional(),
    /** Caches used besides the ones a manifest names. */
    substituters: z.array(z.string()).default([]),
    server: serverSchema.optional(),
    manifest: manifestSourceSchema.optional(),
    remotes: z.array(remoteSchema).default([]),
    /** Armored GPG public keys; when any signing key is configured, only signed commits deploy. */
    gpgPublicKeyPaths: z.array(absolutePath).default([]),
    /** An SSH allowed-signers file (ssh-keygen(1)); same rule as gpgPublicKeyPaths. */
    allowedSignersPath: absolutePath.optional(),
    /**
     * Not only the tip: every commit between the last deployed main commit and the new tip must
     * be signed by one of those keys, so an unsigned commit cannot ride in under a signed one.
     */
    requireSignedHistory: z.boolean().default(false),
    /** Subdirectory of the repository holding the fleet (oscd.toml, flake.nix). */
    flakeSubdirectory: z.string().regex(/^(?!\/)(?!.*\.\.)/, "a relative path without '..'").default(""),
    evalTimeout: positiveSeconds.default(1800),
    buildTimeout: positiveSeconds.default(1800),
    switchTimeout: positiveSeconds.default(600),
    /** Maintenance windows for changing the running system. None: any time. */
    switchWindows: z.array(windowSchema).default([]),
    /** Outside every switch window: install for the next boot now (`boot`), or wait (`wait`). */
    outsideWindow: z.enum(["boot", "wait"]).default("wait"),
    reboot: z
      .object({
        policy: z.enum(["never", "when-needed"]).default("never"),
        /** As `system.autoUpgrade.rebootWindow`. None: any time. */
        rebootWindow: windowSchema.optional(),
        randomizedDelaySec: seconds.default(0),
      })
      .strict()
      .default({}),
    health: healthSchema.partial().optional(),
    /** Run after every deployment (argv; OSCD_GIT_SHA, OSCD_STATUS, … in its environment). */
    postDeploymentCommand: z.array(z.string()).min(1).optional(),
    controlSocket: absolutePath.default("/run/oscd/agent.sock"),
    exporter: z
      .object({
        enable: z.boolean().default(true),
        listenAddress: z.string().default("127.0.0.1"),
        port: z.number().int().min(0).max(65535).default(4243),
      })
      .strict()
      .default({}),
    reports: z
      .object({
        /** Control server base URL; reports go to `{url}/api/v1/reports`. Not with `server`, which says it. */
        url: httpUrlSchema.optional(),
        /** File holding this host's bearer token (never the token itself). Not with `server`. */
        tokenFile: absolutePath.optional(),
        /** Seconds between delivery attempts while the server is away (doubling up to 10x). */
        retryInterval: positiveSeconds.default(10),
      })
      .strict()
      .optional(),
    /** Seconds of the first and the longest wait after a failed fetch. */
    backoff: z.object({ initial: positiveSeconds.default(2), max: positiveSeconds.default(300) }).strict().default({}),
    logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
    /** Before each activation, an event with what changes: packages, closure size, reboot need. */
    diff: z.boolean().default(false),
    /** Generations kept after each committed deployment (as machine.toml `retention`). None: all kept. */
    retention: retentionSchema.optional(),
    /**
     * After a committed switch whose system carries another version of this agent's unit (its
     * package or settings), restart into it: `systemctl restart` from a transient unit where
     * systemd runs, else a new process this one hands over to. The new agent must answer on the
     * control socket within `timeout` seconds, or the old one comes back and reports why.
     */
    selfUpdate: z
      .object({
        enable: z.boolean().default(true),
        /** The agent's own unit, as installed in the system (`etc/systemd/system/<unit>`). */
        unit: z.string().regex(/^[A-Za-z0-9@._-]+\.service$/, "a systemd service unit name").default("oscd-agent.service"),
        timeout: positiveSeconds.default(120),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const urls = c.manifest?.urls ?? [];
    if (!c.server && urls.length === 0 && c.remotes.length === 0) ctx.addIssue({ code: "custom", path: ["server"], message: "configure a manifest source (server or manifest.urls), git remotes, or both" });
    else if (c.manifest && !c.server && urls.length === 0) ctx.addIssue({ code: "custom", path: ["manifest", "urls"], message: "no manifest URL and no server: the manifest settings would not be used" });
    if ((c.server || urls.length > 0) && c.trustedPublicKeys.length === 0 && !c.trustRoot) ctx.addIssue({ code: "custom", path: ["trustedPublicKeys"], message: "a manifest source needs at least one trusted key to check signatures with" });
    if (c.server?.channel && c.manifest?.channel && c.server.channel !== c.manifest.channel) {
      ctx.addIssue({ code: "custom", path: ["manifest", "channel"], message: `${c.manifest.channel} differs from server.channel ${c.server.channel}: manifest.urls are mirrors of the server's channel` });
    }
    if (c.server && (c.reports?.url !== undefined || c.reports?.tokenFile !== undefined)) {
      ctx.addIssue({ code: "custom", path: ["reports", c.reports?.url !== undefined ? "url" : "tokenFile"], message: "reports go to server.url with server.tokenFile when server is set; leave reports.url and reports.tokenFile out" });
    }
    if (!c.server && c.reports && (c.reports.url === undefined || c.reports.tokenFile === undefined)) {
      ctx.addIssue({ code: "custom", path: ["reports", c.reports.url === undefined ? "url" : "tokenFile"], message: "reports need url and tokenFile (or set server)" });
    }
    if (c.requireSignedHistory && !c.allowedSignersPath && c.gpgPublicKeyPaths.length === 0) {
      ctx.addIssue({ code: "custom", path: ["requireSignedHistory"], message: "signed history needs the keys to check it with: set allowedSignersPath or gpgPublicKeyPaths" });
    }
    const names = new Set<string>();
    c.remotes.forEach((r, i) => {
      if (names.has(r.name)) ctx.addIssue({ code: "custom", path: ["remotes", i, "name"], message: `remote ${r.name} is listed twice` });
      names.add(r.name);
    });
  })
  // One channel for the server and its mirrors; a server alone gets the manifest settings' defaults.
  .transform((c) => {
    const channel = c.server?.channel ?? c.manifest?.channel ?? "main";
    const manifest = c.manifest ?? (c.server ? manifestSourceSchema.parse({}) : undefined);
    return { ...c, server: c.server && { ...c.server, channel }, manifest: manifest && { ...manifest, channel } };
  });

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type RemoteConfig = AgentConfig["remotes"][number];
export type ManifestSourceConfig = NonNullable<AgentConfig["manifest"]>;

export class AgentConfigError extends UsageError {
  constructor(where: string, detail: string) {
    super(`${where}: ${detail}`, "see `oscd agent --help` for the settings; `oscd agent --check-config FILE` checks a file", "agent-config");
  }
}

/** A URL with a user or password in it: the token belongs in a file. */
export class UrlCredentialsError extends UsageError {
  constructor(where: string, at: string) {
    super(
      `${where}: ${at}: the URL has credentials in it; a URL is logged, printed and, written by the NixOS module, world-readable in the Nix store`,
      "remove the user:password part and put the host token in a file: server = { url, tokenFile } (services.oscd.agent.server.tokenFile)",
      "url-credentials",
    );
  }
}

/** Validates parsed JSON; errors name the key (`remotes.0.poller.period: …`, `unknown key(s) foo`). */
export function parseAgentConfig(raw: unknown, where = "the agent configuration"): AgentConfig {
  const r = agentConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const credentials = r.error.issues.find((i) => i.message === CREDENTIALS_IN_URL);
  if (credentials) throw new UrlCredentialsError(where, credentials.path.join("."));
  const issues = r.error.issues.slice(0, 4).map((i) => {
    const at = i.path.join(".") || "(top level)";
    return i.code === "unrecognized_keys" ? `${at}: unknown key(s) ${i.keys.join(", ")}` : `${at}: ${i.message}`;
  });
  throw new AgentConfigError(where, issues.join("; "));
}

export async function loadAgentConfig(path: string): Promise<AgentConfig> {
  return parseAgentConfig(await readJsonObject(path), path);
}

/** `{hostname}` in branch names, resolved for this machine. */
export function branchName(template: string, host: string): string {
  return template.replaceAll("{hostname}", host);
}

/**
 * Shortcut flags for trying the agent by hand (`--manifest-url`, `--remote [name=]url`, …);
 * every key also has a flag of its own (flags.ts), given here as `settings`.
 */
export interface AgentFlags {
  manifestUrl?: string[];
  channel?: string;
  pollInterval?: number;
  trustedPublicKey?: string[];
  remote?: string[];
  exporter?: boolean;
  settings?: FlagSetting[];
}

/** One configuration key set on the command line: its path and value. */
export interface FlagSetting {
  path: string[];
  value: unknown;
  /** Paths set too, where their parent object is there once the other flags are laid (the channel of a server). */
  also?: string[][];
}

/**
 * The file (if any) with the flags laid over it, validated as one. A flag replaces the value at
 * its path (a list flag replaces the whole list); everything else comes from the file. The full
 * flags (`--manifest-poll-interval`) are applied after the shortcuts (AgentFlags, for callers in code).
 */
export async function resolveAgentConfig(file: string | undefined, flags: AgentFlags): Promise<AgentConfig> {
  let raw: Record<string, unknown> = {};
  if (file) {
    raw = await readJsonObject(file);
  }
  if (flags.trustedPublicKey?.length) raw.trustedPublicKeys = flags.trustedPublicKey;
  if (flags.manifestUrl?.length || flags.channel || flags.pollInterval !== undefined) {
    const m = { ...((raw.manifest as Record<string, unknown> | undefined) ?? {}) };
    if (flags.manifestUrl?.length) m.urls = flags.manifestUrl;
    if (flags.channel) m.channel = flags.channel;
    if (flags.pollInterval !== undefined) m.pollInterval = flags.pollInterval;
    raw.manifest = m;
  }
  if (flags.remote?.length) {
    raw.remotes = flags.remote.map((spec, i) => {
      const eq = spec.indexOf("=");
      return eq > 0 && !spec.slice(0, eq).includes("/") ? { name: spec.slice(0, eq), url: spec.slice(eq + 1) } : { name: i === 0 ? "origin" : `remote${i}`, url: spec };
    });
  }
  if (flags.exporter === false) raw.exporter = { ...((raw.exporter as Record<string, unknown> | undefined) ?? {}), enable: false };
  for (const s of flags.settings ?? []) setAtPath(raw, s.path, s.value);
  for (const s of flags.settings ?? []) for (const p of s.also ?? []) if (parentExists(raw, p)) setAtPath(raw, p, s.value);
  return parseAgentConfig(raw, file ?? "the agent flags");
}

function parentExists(raw: Record<string, unknown>, path: readonly string[]): boolean {
  let o: unknown = raw;
  for (const k of path.slice(0, -1)) o = typeof o === "object" && o !== null ? (o as Record<string, unknown>)[k] : undefined;
  return typeof o === "object" && o !== null && !Array.isArray(o);
}

/** Sets `value` at `path` in a configuration object, making the objects on the way. */
export function setAtPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let o = target;
  for (const k of path.slice(0, -1)) {
    const next = o[k];
    const obj = typeof next === "object" && next !== null && !Array.isArray(next) ? { ...(next as Record<string, unknown>) } : {};
    o[k] = obj;
    o = obj;
  }
  o[path[path.length - 1] as string] = value;
}

async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new AgentConfigError(path, `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new AgentConfigError(path, `not JSON (${(e instanceof Error ? e.message : String(e)).split("\n")[0]})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new AgentConfigError(path, "(top level): expected a JSON object");
  return raw as Record<string, unknown>;
}
