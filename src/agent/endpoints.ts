import { registerSecret } from "../core/command-log.js";
import { readFile } from "node:fs/promises";
import { OscdError } from "../core/errors.js";
import type { AgentConfig } from "./config.js";

/**
 * Where the agent reads manifests and sends reports, and with which token: one answer for the
 * agent at run time and for `oscd agent --check-config`, which prints it with the token shown as
 * `<from tokenFile>` (the file is never read there). A token is read from its file for each
 * request, so a rotated token is used at once; it never goes in a URL, an argument or a log line.
 */
export const SERVER_MANIFEST_PATH = (channel: string) => `/api/v1/channels/${channel}/manifest`;
export const SERVER_REPORTS_PATH = "/api/v1/reports";
export const TOKEN_PLACEHOLDER = "Bearer <from tokenFile>";

export interface ManifestEndpoint {
  url: string;
  /** Sent as `Authorization: Bearer` (the control server's host token). */
  tokenFile?: string;
}

export interface ReportTarget {
  /** Base URL; reports go to `{url}/api/v1/reports`. */
  url: string;
  /** Tried in order after `url` fails (the server's `fallbackUrls`). */
  fallbackUrls?: string[];
  tokenFile: string;
  retryInterval: number;
}

function base(url: string): string {
  return url.replace(/\/+$/, "");
}

/** The server's manifest URLs first (its fallbacks after it), then the mirrors of `manifest.urls` (never sent the token). */
export function manifestEndpoints(c: AgentConfig): ManifestEndpoint[] {
  const out: ManifestEndpoint[] = [];
  if (c.server) for (const u of [c.server.url, ...(c.server.fallbackUrls ?? [])]) out.push({ url: `${base(u)}${SERVER_MANIFEST_PATH(c.server.channel)}`, tokenFile: c.server.tokenFile });
  for (const url of c.manifest?.urls ?? []) out.push({ url });
  return out;
}

/** Reports go to the server when one is set, else to `reports.url`; none without either. */
export function reportTarget(c: AgentConfig): ReportTarget | undefined {
  const retryInterval = c.reports?.retryInterval ?? 10;
  if (c.server) return { url: base(c.server.url), ...(c.server.fallbackUrls?.length ? { fallbackUrls: c.server.fallbackUrls.map(base) } : {}), tokenFile: c.server.tokenFile, retryInterval };
  if (c.reports?.url !== undefined && c.reports.tokenFile !== undefined) return { url: base(c.reports.url), tokenFile: c.reports.tokenFile, retryInterval };
  return undefined;
}

/** What `--check-config` prints besides the configuration: the requests the agent will make. */
export function describeEndpoints(c: AgentConfig): { manifest: { url: string; authorization?: string }[]; reports?: { url: string; fallbackUrls?: string[]; authorization: string } } {
  const r = reportTarget(c);
  return {
    manifest: manifestEndpoints(c).map((e) => ({ url: e.url, ...(e.tokenFile ? { authorization: TOKEN_PLACEHOLDER } : {}) })),
    ...(r ? { reports: { url: `${r.url}${SERVER_REPORTS_PATH}`, ...(r.fallbackUrls?.length ? { fallbackUrls: r.fallbackUrls.map((u) => `${u}${SERVER_REPORTS_PATH}`) } : {}), authorization: TOKEN_PLACEHOLDER } } : {}),
  };
}

export class TokenFileError extends OscdError {
  constructor(file: string, detail: string) {
    super("token-file", `the token file ${file} ${detail}`, { hint: "put this host's token (oscd server token create --host NAME) in that file; services.oscd.agent.server.tokenFile names it" });
  }
}

/** The `Authorization` header value from a token file; its content is never part of an error. */
export async function bearerFrom(tokenFile: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(tokenFile, "utf8");
  } catch (e) {
    throw new TokenFileError(tokenFile, `cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const token = text.trim();
  registerSecret(token);
  if (token === "") throw new TokenFileError(tokenFile, "is empty");
  if (/\s/.test(token)) throw new TokenFileError(tokenFile, "holds more than one word");
  return `Bearer ${token}`;
}
