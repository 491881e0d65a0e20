import { open } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { OscdError } from "../core/errors.js";
import { BodyTooLargeError, fetchCapped } from "../core/fetch-capped.js";

/**
 * Where a machine fetches trust documents: the `trust/` directory beside a channel's manifests
 * (`<cache>/channels/trust/`, or the control server's `/api/v1/channels/<channel>/trust/`), or
 * a bundle's `trust/`. Names are `root.json`, `<N>.root.json` and `<channel>.revocations.json`.
 * Every read is capped before anything is parsed (endless data): a larger answer is an error
 * and nothing past the cap is read.
 */
export interface TrustSource {
  /** How the file is named in messages (no credentials). */
  describe(name: string): string;
  /** The file's text, or undefined when the source has no such file. */
  get(name: string, maxBytes: number): Promise<string | undefined>;
}

export class TrustFetchError extends OscdError {
  constructor(where: string, detail: string) {
    super("trust-unreachable", `cannot fetch ${where}: ${detail}`, { hint: "check the URL or directory; the machine keeps the trust root it has" });
  }
}

export class TrustTooLargeError extends OscdError {
  constructor(where: string, maxBytes: number) {
    super("trust-too-large", `${where} is larger than ${maxBytes} bytes, larger than any trust document; nothing past that was read`, {
      hint: "someone serves endless or padded data in place of a trust document; check the mirror",
      exitCode: 3,
    });
  }
}

const NAME = /^(?:root|[1-9][0-9]{0,15}\.root|[A-Za-z0-9][A-Za-z0-9_-]{0,62}\.revocations)\.json$/;

function checkName(name: string): void {
  // Names are made by oscd, never taken from the documents; this keeps them out of paths and URLs.
  if (!NAME.test(name)) throw new Error(`not a trust document name: ${name}`);
}

/** Reads at most `maxBytes` (+1 to tell "exactly the cap" from "more") of a file. */
async function readCapped(path: string, where: string, maxBytes: number): Promise<string | undefined> {
  let h;
  try {
    h = await open(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new TrustFetchError(where, code ?? String(e));
  }
  try {
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (;;) {
      const r = await h.read(buf, n, buf.length - n, null);
      if (r.bytesRead === 0) break;
      n += r.bytesRead;
      if (n > maxBytes) throw new TrustTooLargeError(where, maxBytes);
    }
    return buf.subarray(0, n).toString("utf8");
  } finally {
    await h.close();
  }
}

/** A directory holding the trust documents (a file cache's `channels/trust/`, a bundle's `trust/`). */
export function directorySource(dir: string): TrustSource {
  return {
    describe: (name) => join(dir, name),
    get: async (name, maxBytes) => {
      checkName(name);
      return readCapped(join(dir, name), join(dir, name), maxBytes);
    },
  };
}

/** How a URL is named in messages: never with credentials or a query. */
function shownUrl(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/** A fetcher returning the status and at most `maxBytes` of the body (the agent passes its own http client). */
export type CappedGet = (url: URL, maxBytes: number) => Promise<{ status: number; body: string }>;

/** The global fetch, reading the body as a stream and stopping at the cap. */
export const fetchCappedGet: CappedGet = async (url, maxBytes) => {
  const headers: Record<string, string> = { accept: "application/json" };
  const target = new URL(url);
  if (target.username || target.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString("base64")}`;
    target.username = "";
    target.password = "";
  }
  try {
    const r = await fetchCapped(target, { headers, signal: AbortSignal.timeout(60_000), redirect: "follow", maxBytes });
    return { status: r.status, body: r.text };
  } catch (e) {
    if (e instanceof BodyTooLargeError) throw new TrustTooLargeError(shownUrl(target), maxBytes);
    const cause = (e as { cause?: { code?: string } }).cause;
    throw new TrustFetchError(shownUrl(target), cause?.code ?? (e instanceof Error ? e.message : String(e)));
  }
};

/** The trust directory at `base` (an http(s) or file URL ending in `/`). */
export function urlSource(base: string, get: CappedGet = fetchCappedGet): TrustSource {
  const root = new URL(base.endsWith("/") ? base : `${base}/`);
  if (root.protocol === "file:") return directorySource(fileURLToPath(root));
  if (root.protocol !== "http:" && root.protocol !== "https:") throw new OscdError("trust-unreachable", `trust documents are read from http(s) or file URLs, not ${root.protocol}`, { exitCode: 2 });
  const url = (name: string) => {
    checkName(name);
    const u = new URL(name, root);
    u.search = root.search;
    return u;
  };
  return {
    describe: (name) => shownUrl(url(name)),
    get: async (name, maxBytes) => {
      const u = url(name);
      const r = await get(u, maxBytes);
      if (r.status === 404 || r.status === 410) return undefined;
      if (r.status !== 200) throw new TrustFetchError(shownUrl(u), `HTTP ${r.status}`);
      return r.body;
    },
  };
}

/**
 * The trust directory beside a channel manifest: `…/channels/main.json` → `…/channels/trust/`,
 * and the control server's `…/channels/main/manifest` → `…/channels/main/trust/`. A plain
 * path is a file beside which `trust/` is looked for.
 */
export function trustLocationBeside(manifestLocation: string): string {
  if (/^(https?|file):\/\//i.test(manifestLocation)) {
    const u = new URL(manifestLocation);
    u.search = "";
    u.hash = "";
    u.pathname = /\/manifest\/?$/.test(u.pathname) ? u.pathname.replace(/\/?$/, "/").replace(/manifest\/$/, "trust/") : u.pathname.replace(/[^/]*$/, "trust/");
    return u.toString();
  }
  return join(manifestLocation, "..", "trust");
}

/** A location (directory path or URL) as a TrustSource. */
export function trustSource(location: string, get?: CappedGet): TrustSource {
  return /^(https?|file):\/\//i.test(location) ? urlSource(location, get) : directorySource(location);
}

/** Test access to the name rule. */
export const isTrustDocumentName = (name: string) => NAME.test(name);
