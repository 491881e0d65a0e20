import { shellQuote } from "../core/command-log.js";

/** What `oscd init` was given that the next commands name. */
export interface NextStepsInput {
  /** Files init wrote (relative to the repository), committed by the first step. */
  written: readonly string[];
  /** The version file (written or kept): the build reads it, so it is committed too. */
  versionFile: string;
  /** The secret key file given with --sign-key, as the user typed it. */
  signKeyFile?: string;
  /** How a machine names the trusted key: a .public file beside the secret, or the key itself. */
  trustedKeyRef?: string;
  /** The caches written to oscd.toml. */
  caches: readonly string[];
  /** The channel oscd.toml names. */
  channel: string;
}

/** Where a cache keeps a channel's manifest, when it keeps manifests at all (file:// and http(s)://). */
function manifestLocation(cache: string, channel: string): string | undefined {
  if (cache.startsWith("file://")) {
    const path = decodeURIComponent(new URL(cache).pathname).replace(/\/+$/, "");
    return `${path}/channels/${channel}.json`;
  }
  if (/^https?:\/\//.test(cache)) return `${cache.split("?")[0]?.replace(/\/+$/, "")}/channels/${channel}.json`;
  return undefined;
}

/**
 * The three commands after `oscd init`: commit what it wrote (oscd builds commits, never the
 * working tree), publish, and check the manifest as a machine would.
 */
export function nextSteps(s: NextStepsInput): string[] {
  const files = [...new Set(["oscd.toml", s.versionFile, ...s.written])];
  const channel = s.channel === "main" ? [] : ["--channel", s.channel];
  const manifest = s.caches.map((c) => manifestLocation(c, s.channel)).find((m) => m !== undefined);
  return [
    `git add ${shellQuote(files)} && git commit -m ${shellQuote(["oscd init"])}`,
    shellQuote(["oscd", "publish", "--sign-key", s.signKeyFile ?? "FILE", ...channel]),
    manifest ? shellQuote(["oscd", "manifest", "verify", manifest, "--trusted-key", s.trustedKeyRef ?? "KEY"]) : shellQuote(["oscd", "manifest", "show", ...channel]),
  ];
}
