import { readFile } from "node:fs/promises";
import { EXIT, OscdError, UsageError, type ExitCode } from "../core/errors.js";

/**
 * The control server's API as the command line uses it. Kept apart from src/server so a command
 * that only talks to a server (`oscd rollout`, `oscd status --server`, `oscd publish --server`)
 * loads a few small modules, not the server with its database drivers (measured: ~0.2 s
 * against ~2 s on a loaded machine).
 *
 * Tokens come from a file or the environment, never from argv, where `ps` shows them to every
 * user of the machine.
 */
export async function readServerToken(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (file) {
    try {
      return (await readFile(file, "utf8")).trim();
    } catch (e) {
      throw new UsageError(`cannot read the token file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, "give --server-token-file a file holding a token from `oscd server token create`", "server-token");
    }
  }
  const t = env.OSCD_SERVER_TOKEN?.trim();
  if (!t) throw new UsageError("no server token", "set OSCD_SERVER_TOKEN or pass --server-token-file FILE (a token from `oscd server token create --role operator`)", "server-token");
  return t;
}

/** `--server URL`, else `$OSCD_SERVER`. */
export function serverUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const url = flag ?? env.OSCD_SERVER?.trim();
  if (!url) throw new UsageError("no control server named", "pass --server URL (e.g. --server https://oscd.example.org) or set OSCD_SERVER", "bad-server-url");
  return checkServerUrl(url);
}

export function checkServerUrl(base: string): string {
  if (!/^https?:\/\/[^\s]+$/.test(base)) throw new UsageError(`--server ${JSON.stringify(base.slice(0, 80))} is not an http(s) URL`, "e.g. --server https://oscd.example.org", "bad-server-url");
  return base.replace(/\/+$/, "");
}

/** The server could not be reached at all. */
export class ServerRequestError extends OscdError {
  constructor(message: string, hint: string) {
    super("server-request", message, { hint });
  }
}

/**
 * The server answered with a refusal. Its own code leads the message (`[rollout-busy] …`, as
 * docs/troubleshooting.md lists them); a role that may not do this (403) exits 3 like any
 * refused guard, a request the server found malformed (400) exits 2.
 */
export class ServerRefusedError extends OscdError {
  constructor(
    readonly status: number,
    readonly serverCode: string,
    message: string,
    hint: string,
  ) {
    const exitCode: ExitCode = status === 401 || status === 403 ? EXIT.refused : status === 400 ? EXIT.usage : EXIT.failed;
    super("server-refused", message, { hint, exitCode });
  }
}

const clean = (s: string, max = 300) => s.replace(/[\r\n\u2028\u2029]+/g, " ").replace(/[^\x20-\x7e\u00a0-\uffff]/g, "?").slice(0, max);

function hintFor(status: number, code: string): string {
  if (status === 401) return "the token is unknown or revoked: make one with `oscd server token create`";
  if (status === 403) return "this token's role may not do that: an operator (or admin) token starts and steers rollouts, a viewer token only reads";
  if (code === "rollout-busy") return "see it with `oscd rollout status`; abort it first (`oscd rollout abort`) or let it finish";
  if (code === "rollout-state") return "see the rollout's state with `oscd rollout status ID`";
  if (code === "not-found") return "check the name or id (`oscd rollout list`, `oscd status --server URL`)";
  return "docs/troubleshooting.md lists the server's codes";
}

export interface RequestOptions {
  body?: unknown;
  /** A body sent as it is (a signed manifest: the exact bytes). */
  raw?: string;
  /** The media type of `raw` (application/json unless said). */
  contentType?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** One server, one token. */
export class ServerClient {
  readonly base: string;
  constructor(
    base: string,
    private readonly token: string,
  ) {
    this.base = checkServerUrl(base);
  }

  /** The base URL without any credentials, for messages. */
  get shown(): string {
    return this.base.replace(/\/\/[^/@]*@/, "//");
  }

  async request<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, o);
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (res.status >= 200 && res.status < 300) return body as T;
    const err = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const code = typeof err?.code === "string" ? clean(err.code, 60) : `http-${res.status}`;
    const why = typeof err?.message === "string" ? clean(err.message) : `status ${res.status}`;
    throw new ServerRefusedError(res.status, code, `${this.shown}${path.split("?")[0]} refused: [${code}] ${why}`, hintFor(res.status, code));
  }

  /** The raw response (server-sent events are read as a stream). */
  async send(method: string, path: string, o: RequestOptions = {}): Promise<Response> {
    const url = this.base + path;
    // The client's name goes into the server's audit record of a change ("via cli").
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, "x-oscd-client": "cli" };
    let body: string | undefined;
    if (o.raw !== undefined) body = o.raw;
    else if (o.body !== undefined) body = JSON.stringify(o.body);
    if (body !== undefined) headers["content-type"] = (o.raw !== undefined ? o.contentType : undefined) ?? "application/json";
    const timeout = o.timeoutMs === 0 ? undefined : AbortSignal.timeout(o.timeoutMs ?? 30_000);
    const signal = timeout && o.signal ? AbortSignal.any([timeout, o.signal]) : (timeout ?? o.signal);
    try {
      return await fetch(url, { method, headers, body, signal });
    } catch (e) {
      if (o.signal?.aborted) throw e;
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
      throw new ServerRequestError(`cannot reach ${this.shown}${path.split("?")[0]}: ${clean(String(cause), 200)}`, "check the URL and that `oscd server` runs there");
    }
  }
}
