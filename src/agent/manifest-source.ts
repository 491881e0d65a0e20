import { watch, type FSWatcher } from "node:fs";
import { open } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { OscdError } from "../core/errors.js";
import { bearerFrom, type ManifestEndpoint } from "./endpoints.js";
import { header, httpFetch, KeepAlive } from "../core/http.js";

/**
 * Fetches a channel manifest from its URLs (mirrors, tried in order) with conditional requests.
 *
 * Long-poll contract (for the control server and any static server that wants it): the agent
 * sends `GET <url>?wait=<seconds>` with `If-None-Match`/`If-Modified-Since`; the server answers
 * 200 with the manifest as soon as one newer than the validators exists, or 304 when the wait
 * ends. A server offers this by sending `X-Oscd-Long-Poll: 1` on its answers; the agent only adds
 * `wait` after it has seen that header, so a plain web server or CDN is polled with jitter.
 * A server with no release for the host yet answers 204 with an ETag;
 * the agent asks again with that tag, and the wait ends with 200 the moment there is one.
 */
export const LONG_POLL_HEADER = "x-oscd-long-poll";
/** The hold the server would like asked for (`oscd server --long-poll-seconds`); used when the agent sets none. */
export const LONG_POLL_SECONDS_HEADER = "x-oscd-long-poll-seconds";
/** The hold asked for when neither the agent's configuration nor the server says: under a proxy's usual 60 s. */
export const DEFAULT_LONG_POLL_SECONDS = 55;
/** Far above any manifest; a bigger answer is refused before it fills memory. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/**
 * `none`: the server holds no release for this host yet (a new channel, or a rollout wave that
 * has not reached it). It answers 204 with an entity tag of its own and long-polls like any
 * manifest request, so the agent waits for the release instead of treating it as an outage.
 */
export type FetchResult = { kind: "new"; text: string; url: string } | { kind: "not-modified"; url: string } | { kind: "none"; url: string };

export class SourceUnreachableError extends OscdError {
  constructor(detail: string) {
    super("source-unreachable", `no manifest URL answered: ${detail}`, { hint: "the agent keeps serving status and retries with backoff; check the URL and the network" });
  }
}

interface Validators {
  etag?: string;
  lastModified?: string;
  /** file://: size, mtime and inode of the last read. */
  fileStamp?: string;
  /** The last answer was "no release yet" (204): a 304 to the same tag still means that. */
  none?: boolean;
}

export class ManifestSource {
  private readonly validators = new Map<string, Validators>();
  /** URLs whose server said it holds requests (long-poll), with the hold it asked for, if any. */
  private readonly longPoll = new Map<string, number | undefined>();
  /** One connection reused from long-poll to long-poll. */
  private readonly connections = new KeepAlive();

  readonly urls: readonly string[];
  private readonly endpoints: readonly ManifestEndpoint[];

  /** Endpoints in order; plain strings are URLs sent no token. */
  constructor(
    endpoints: readonly (ManifestEndpoint | string)[],
    private readonly opts: {
      timeoutMs: number;
      /** Seconds each long-poll asks to be held; 0: never long-poll; undefined: as the server says, else 55. */
      longPollSeconds: number | undefined;
      /** The `Authorization` header from a token file; default: read the file for each request (a rotated token is used at once). */
      bearer?: (tokenFile: string) => Promise<string>;
    },
  ) {
    this.endpoints = endpoints.map((e) => (typeof e === "string" ? { url: e } : e));
    this.urls = this.endpoints.map((e) => e.url);
  }

  /** True when the next fetch will be a long-poll (the caller then need not sleep between fetches). */
  get longPolling(): boolean {
    return this.opts.longPollSeconds !== 0 && this.urls[0] !== undefined && this.longPoll.has(this.urls[0]);
  }

  /** Forgets the validators, so the next fetch reads the manifest again (`oscd agent fetch`). */
  reset(): void {
    this.validators.clear();
  }

  async fetch(signal?: AbortSignal): Promise<FetchResult> {
    const failures: string[] = [];
    for (const { url, tokenFile } of this.endpoints) {
      if (signal?.aborted) break;
      try {
        return url.startsWith("file://") ? await this.fetchFile(url) : await this.fetchHttp(url, tokenFile, signal);
      } catch (e) {
        if (signal?.aborted) break;
        const detail = (e instanceof Error ? e.message.split("\n")[0] : String(e)) ?? "";
        failures.push(`${redact(url)}: ${detail.replaceAll(url, redact(url))}`);
      }
    }
    if (signal?.aborted) throw new OscdError("fetch-aborted", "the fetch was interrupted");
    throw new SourceUnreachableError(failures.join("; "));
  }

  private async fetchFile(url: string): Promise<FetchResult> {
    const path = fileURLToPath(url);
    const h = await open(path, "r");
    try {
      const s = await h.stat();
      if (s.size > MAX_MANIFEST_BYTES) throw new Error(`larger than ${MAX_MANIFEST_BYTES} bytes`);
      const stamp = `${s.ino}:${s.size}:${s.mtimeMs}`;
      const v = this.validators.get(url);
      if (v?.fileStamp === stamp) return { kind: "not-modified", url };
      const text = await h.readFile("utf8");
      this.validators.set(url, { fileStamp: stamp });
      return { kind: "new", text, url };
    } finally {
      await h.close();
    }
  }

  private async fetchHttp(url: string, tokenFile: string | undefined, signal?: AbortSignal): Promise<FetchResult> {
    const v = this.validators.get(url) ?? {};
    const headers: Record<string, string> = { accept: "application/json" };
    if (v.etag) headers["if-none-match"] = v.etag;
    if (v.lastModified) headers["if-modified-since"] = v.lastModified;
    const wait = this.opts.longPollSeconds !== 0 && this.longPoll.has(url) && (v.etag || v.lastModified) ? (this.opts.longPollSeconds ?? this.longPoll.get(url) ?? DEFAULT_LONG_POLL_SECONDS) : 0;
    const target = new URL(wait > 0 ? withWait(url, wait) : url);
    // The configuration refuses credentials in URLs; one that got here anyway is not sent.
    if (target.username || target.password) throw new Error("the URL has credentials in it, which are never sent; use a token file");
    // Read for each request: a rotated token is used at once.
    if (tokenFile) headers.authorization = await (this.opts.bearer ?? bearerFrom)(tokenFile);
    const res = await httpFetch(target, { headers, timeoutMs: this.opts.timeoutMs + wait * 1000, signal, maxBytes: MAX_MANIFEST_BYTES, keepAlive: this.connections });
    if (header(res.headers, LONG_POLL_HEADER) === "1") this.longPoll.set(url, holdSeconds(header(res.headers, LONG_POLL_SECONDS_HEADER)));
    else this.longPoll.delete(url);
    if (res.status === 304) return { kind: v.none ? "none" : "not-modified", url };
    if (res.status === 204) {
      this.validators.set(url, { etag: header(res.headers, "etag"), none: true });
      return { kind: "none", url };
    }
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    this.validators.set(url, { etag: header(res.headers, "etag"), lastModified: header(res.headers, "last-modified") });
    return { kind: "new", text: res.body, url };
  }
}

/** The server's wished hold, when it is a sane whole number of seconds (1–3600); else none. */
export function holdSeconds(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d{1,4}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= 1 && n <= 3600 ? n : undefined;
}

function withWait(url: string, seconds: number): string {
  const u = new URL(url);
  u.searchParams.set("wait", String(Math.round(seconds)));
  return u.toString();
}

/** URLs in messages lose any user:password part. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = "***";
      u.password = "";
    }
    return u.toString();
  } catch {
    return "(a URL that does not parse)";
  }
}

/** Calls `onChange` when a file:// manifest's directory changes (publish renames into it). */
export function watchFileUrls(urls: readonly string[], onChange: () => void): FSWatcher[] {
  const out: FSWatcher[] = [];
  for (const url of urls) {
    if (!url.startsWith("file://")) continue;
    const path = fileURLToPath(url);
    try {
      const w = watch(dirname(path), { persistent: false }, (_event, name) => {
        if (!name || name === basename(path)) onChange();
      });
      w.on("error", () => w.close());
      out.push(w);
    } catch {
      // A directory that does not exist yet: polling finds the file when it appears.
    }
  }
  return out;
}
