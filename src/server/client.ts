import { registerSecret } from "../core/command-log.js";
import { readFile } from "node:fs/promises";
import { OscdError, UsageError } from "../core/errors.js";
import type { FleetRow } from "./fleet-view.js";

/**
 * The server's API as the CLI uses it (`oscd status --server`). The token comes from a file or
 * the environment, never from argv, where `ps` would show it to every user of the machine.
 */
export async function readServerToken(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (file) {
    try {
      const token = (await readFile(file, "utf8")).trim();
      registerSecret(token);
      return token;
    } catch (e) {
      throw new UsageError(`cannot read the token file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, "give --token-file a file holding a token from `oscd server token create`", "server-token");
    }
  }
  const t = env.OSCD_SERVER_TOKEN?.trim();
  registerSecret(t);
  if (!t) throw new UsageError("no server token", "set OSCD_SERVER_TOKEN or pass --token-file FILE (an admin token from `oscd server token create --admin`)", "server-token");
  return t;
}

export class ServerRequestError extends OscdError {
  constructor(message: string, hint: string) {
    super("server-request", message, { hint });
  }
}

export async function fetchFleet(base: string, token: string, timeoutMs = 30_000): Promise<FleetRow[]> {
  if (!/^https?:\/\//.test(base)) throw new UsageError(`--server ${JSON.stringify(base.slice(0, 80))} is not an http(s) URL`, "e.g. --server https://oscd.example.org", "bad-server-url");
  const url = base.replace(/\/+$/, "") + "/api/v1/hosts";
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new ServerRequestError(`cannot reach ${url}: ${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message}`, "check the URL and that `oscd server` runs there");
  }
  const body = (await res.json().catch(() => undefined)) as { hosts?: FleetRow[]; error?: { code?: string; message?: string } } | undefined;
  if (res.status !== 200 || !body || !Array.isArray(body.hosts)) {
    const why = typeof body?.error?.message === "string" ? body.error.message.replace(/[\r\n]+/g, " ").slice(0, 200) : `status ${res.status}`;
    throw new ServerRequestError(`${url} refused: ${why}`, res.status === 401 || res.status === 403 ? "use an admin token (`oscd server token create --admin`)" : "check the server's log");
  }
  return body.hosts;
}

export interface UploadedRelease {
  channel: string;
  sequence: number;
  state: string;
  created: boolean;
}

/**
 * `oscd publish --server URL`: tells a control server of a manifest just written. The server
 * verifies it as an agent would (signature by a trusted key, newer sequence, not expired), so
 * this only saves it reading the cache; it cannot make a release the server would not accept.
 */
export async function uploadRelease(base: string, token: string, manifestText: string, timeoutMs = 60_000): Promise<UploadedRelease> {
  if (!/^https?:\/\//.test(base)) throw new UsageError(`--server ${JSON.stringify(base.slice(0, 80))} is not an http(s) URL`, "e.g. --server https://oscd.example.org", "bad-server-url");
  const url = base.replace(/\/+$/, "") + "/api/v1/releases";
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: manifestText, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new ServerRequestError(`cannot reach ${url}: ${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message}`, "check the URL and that `oscd server` runs there; the manifest is written to the caches all the same");
  }
  const body = (await res.json().catch(() => undefined)) as (Partial<UploadedRelease> & { error?: { code?: string; message?: string } }) | undefined;
  if (!(res.status === 200 || res.status === 201) || typeof body?.sequence !== "number" || typeof body.channel !== "string") {
    const why = typeof body?.error?.message === "string" ? body.error.message.replace(/[\r\n]+/g, " ").slice(0, 200) : `status ${res.status}`;
    throw new ServerRequestError(`${url} refused the release: ${why}`, res.status === 401 || res.status === 403 ? "use an admin token (`oscd server token create --admin`)" : "the manifest is in the caches; the server can also import it (POST /api/v1/releases/import)");
  }
  return { channel: body.channel, sequence: body.sequence, state: String(body.state ?? ""), created: body.created === true };
}
