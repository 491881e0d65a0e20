import { OscdError } from "../core/errors.js";
import { BodyTooLargeError, fetchCapped, type CappedResponse } from "../core/fetch-capped.js";
import type { PublicKey } from "../nix/index.js";
import { checkHistoryEntry, type ChannelLocation, type LocationState } from "./channel.js";
import { checkChannelName, readTrustedManifest, type Manifest } from "../manifest/index.js";

const TIMEOUT_MS = 30_000;
/** A manifest is read whole before it is parsed; anything larger than any manifest is cut off while reading. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
/** How far past `<channel>.json` to look for history claimed by publishes still under way. */
const PROBE_LIMIT = 64;

export class ManifestStoreError extends OscdError {
  constructor(url: string, detail: string) {
    super("manifest-store-unreachable", `cannot write the manifest at ${url}: ${detail}`, {
      hint: "check that the web server accepts PUT with If-Match / If-None-Match on channels/ (WebDAV, an S3 gateway, or a small upload service)",
    });
  }
}

interface Fetched {
  status: number;
  text: string;
  etag?: string;
}

/**
 * A channel on an http(s) binary cache: `<cache>/channels/<channel>.json`. Sequences are
 * claimed with `PUT <channel>.<n>.json` and `If-None-Match: *` (created only if absent), and
 * the current file is replaced with `If-Match: <etag>`, so two publishes never both win and a
 * server that holds a newer manifest is never overwritten by an older one.
 */
export class HttpChannel implements ChannelLocation {
  readonly url: string;
  private readonly base: string;

  constructor(
    cacheUrl: string,
    readonly channel: string,
    private headers: Record<string, string> = {},
  ) {
    checkChannelName(channel);
    const u = new URL(cacheUrl);
    if (u.username || u.password) {
      // fetch() refuses URLs with credentials, and the URL is shown: send them as a header.
      this.headers = { authorization: `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64")}`, ...headers };
      u.username = "";
      u.password = "";
    }
    u.search = "";
    u.hash = "";
    this.base = `${u.toString().replace(/\/+$/, "")}/channels`;
    this.url = `${this.base}/${channel}.json`;
  }

  historyUrl(sequence: number): string {
    return `${this.base}/${this.channel}.${sequence}.json`;
  }

  private async request(method: "GET" | "PUT", url: string, body?: string, extra: Record<string, string> = {}): Promise<Fetched> {
    try {
      return await this.requestOnce(method, url, body, extra);
    } catch (e) {
      // A GET can be repeated safely after a dropped connection; a PUT's outcome is unknown.
      if (method !== "GET" || !(e instanceof ManifestStoreError)) throw e;
      await new Promise((r) => setTimeout(r, 200));
      return this.requestOnce(method, url, body, extra);
    }
  }

  private async requestOnce(method: "GET" | "PUT", url: string, body?: string, extra: Record<string, string> = {}): Promise<Fetched> {
    let res: CappedResponse;
    try {
      res = await fetchCapped(url, {
        method,
        body,
        headers: { ...this.headers, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...extra },
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: "follow",
        maxBytes: MAX_ANSWER_BYTES,
      });
    } catch (e) {
      if (e instanceof BodyTooLargeError) throw new ManifestStoreError(url, `the answer is larger than ${MAX_ANSWER_BYTES} bytes, larger than any manifest`);
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new ManifestStoreError(url, cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e)));
    }
    return { status: res.status, text: res.text, etag: res.headers.get("etag") ?? undefined };
  }

  private async get(url: string, trusted: readonly PublicKey[]): Promise<{ manifest: Manifest; signer: PublicKey; etag?: string } | undefined> {
    const r = await this.request("GET", url);
    if (r.status === 404 || r.status === 410) return undefined;
    if (r.status !== 200) throw new ManifestStoreError(url, `GET answered ${r.status}`);
    const v = readTrustedManifest(r.text, trusted, url);
    if (v.manifest.channel !== this.channel) throw new OscdError("manifest-channel", `${url} is a manifest of channel ${v.manifest.channel}, not ${this.channel}`, { exitCode: 3 });
    return { ...v, etag: r.etag };
  }

  /** The highest claimed history entry at or above `from` (probing upwards, since http cannot list). */
  private async highest(from: number, trusted: readonly PublicKey[]): Promise<{ sequence: number; manifest?: Manifest; signer?: PublicKey; text?: string }> {
    let best: { sequence: number; manifest?: Manifest; signer?: PublicKey; text?: string } = { sequence: from };
    for (let n = from + 1; n <= from + PROBE_LIMIT; n++) {
      const r = await this.request("GET", this.historyUrl(n));
      if (r.status === 404 || r.status === 410) break;
      if (r.status !== 200) throw new ManifestStoreError(this.historyUrl(n), `GET answered ${r.status}`);
      const v = readTrustedManifest(r.text, trusted, this.historyUrl(n));
      checkHistoryEntry(this.historyUrl(n), n, v.manifest);
      best = { sequence: n, manifest: v.manifest, signer: v.signer, text: r.text };
    }
    return best;
  }

  async state(trusted: readonly PublicKey[]): Promise<LocationState> {
    const current = await this.get(this.url, trusted);
    const cur = current?.manifest.sequence ?? 0;
    const top = await this.highest(cur, trusted);
    const newer = top.sequence > cur && top.manifest;
    return {
      latest: newer ? top.manifest : current?.manifest,
      signer: newer ? top.signer : current?.signer,
      currentSequence: current?.manifest.sequence,
      highestSequence: top.sequence,
    };
  }

  async trustRoot(): Promise<string | undefined> {
    const url = `${this.base}/trust/root.json`;
    const r = await this.request("GET", url);
    if (r.status === 404 || r.status === 410) return undefined;
    if (r.status !== 200) throw new ManifestStoreError(url, `GET answered ${r.status}`);
    return r.text;
  }

  async claim(m: Manifest, text: string): Promise<boolean> {
    const url = this.historyUrl(m.sequence);
    const r = await this.request("PUT", url, text, { "if-none-match": "*" });
    if (r.status === 412 || r.status === 409) return false;
    if (r.status < 200 || r.status >= 300) throw new ManifestStoreError(url, `PUT answered ${r.status}`);
    return true;
  }

  async settle(trusted: readonly PublicKey[]): Promise<void> {
    for (let i = 0; i < 20; i++) {
      const r = await this.request("GET", this.url);
      let cur = 0;
      if (r.status === 200) {
        try {
          cur = readTrustedManifest(r.text, trusted, this.url).manifest.sequence;
        } catch {
          cur = 0;
        }
      } else if (r.status !== 404 && r.status !== 410) {
        throw new ManifestStoreError(this.url, `GET answered ${r.status}`);
      }
      const top = await this.highest(cur, trusted);
      if (top.sequence <= cur || top.text === undefined) return;
      const cond: Record<string, string> = r.status === 200 ? (r.etag ? { "if-match": r.etag } : {}) : { "if-none-match": "*" };
      if (r.status === 200 && !r.etag) throw new ManifestStoreError(this.url, "the server sends no ETag, so the manifest cannot be replaced safely");
      const put = await this.request("PUT", this.url, top.text, cond);
      if (put.status === 412 || put.status === 409) continue;
      if (put.status < 200 || put.status >= 300) throw new ManifestStoreError(this.url, `PUT answered ${put.status}`);
    }
  }
}
