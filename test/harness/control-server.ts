import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signManifest, type Manifest, type ManifestBody } from "../../src/manifest/index.js";
import { generateSecretKey, publicKeyOf, type SecretKey } from "../../src/nix/index.js";
import { createToken, startServer, type RunningServer, type ServerOptions } from "../../src/server/index.js";
import { startTestPostgres, type TestPostgres } from "./postgres.js";

/**
 * Control-server tests: a server on loopback over SQLite (temp file) or a throwaway PostgreSQL
 * database, an admin token, signed manifests made with a test fleet key.
 */
export const FLEET_KEY: SecretKey = generateSecretKey("fleet-test-1");
export const OTHER_KEY: SecretKey = generateSecretKey("attacker-1");

const NIX32 = "0123456789abcdfghijklmnpqrsvwxyz";
export function fakeToplevel(host: string, n: number): string {
  let h = "";
  let x = (n * 2654435761 + host.length * 40503) >>> 0;
  for (let i = 0; i < 32; i++) {
    x = (x * 1103515245 + 12345 + i + host.charCodeAt(i % host.length)) >>> 0;
    h += NIX32[x % 32];
  }
  return `/nix/store/${h}-nixos-system-${host}-${n}`;
}

export function manifestBody(channel: string, sequence: number, hosts: readonly string[], now = Date.now()): ManifestBody {
  return {
    schema: "oscd.manifest/v1",
    channel,
    sequence,
    version: `1.0.${sequence}`,
    commit: sequence.toString(16).padStart(40, "0"),
    ref: "refs/heads/main",
    createdAt: new Date(now - 1000).toISOString(),
    expiresAt: new Date(now + 7 * 86_400_000).toISOString(),
    hosts: Object.fromEntries(hosts.map((h) => [h, { toplevel: fakeToplevel(h, sequence), system: "x86_64-linux" }])),
    caches: [],
  };
}

export function signedManifest(channel: string, sequence: number, hosts: readonly string[], key = FLEET_KEY): Manifest {
  return signManifest(manifestBody(channel, sequence, hosts), key);
}

export type Dialect = "sqlite" | "postgres";

/** One PostgreSQL cluster per test file; each server gets a fresh database in it. */
let pg: TestPostgres | undefined;
let dbCounter = 0;
export async function testPostgres(): Promise<TestPostgres> {
  pg ??= await startTestPostgres();
  return pg;
}
export function stopTestPostgres(): void {
  pg?.stop();
  pg = undefined;
}

export interface TestServer {
  server: RunningServer;
  url: string;
  admin: string;
  dbSpec: string;
  hostToken(host: string, opts?: { tags?: string[]; channel?: string }): Promise<string>;
  api(method: string, path: string, opts?: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<{ status: number; json: unknown; text: string; headers: Headers }>;
  close(): Promise<void>;
}

export async function newDbSpec(dialect: Dialect): Promise<{ spec: string; cleanup: () => void }> {
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "oscd-server-"));
    return { spec: `sqlite:${join(dir, "server.db")}`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  }
  const p = await testPostgres();
  return { spec: p.createDatabase(`oscd_t${process.pid}_${++dbCounter}`), cleanup: () => undefined };
}

export async function startTestServer(dialect: Dialect, opts: Partial<ServerOptions> & { dbSpec?: string } = {}): Promise<TestServer> {
  const made = opts.dbSpec ? { spec: opts.dbSpec, cleanup: () => undefined } : await newDbSpec(dialect);
  const server = await startServer({ db: made.spec, trusted: [publicKeyOf(FLEET_KEY)], listen: "127.0.0.1:0", ...opts });
  const admin = (await createToken(server.ctx.db, { kind: "admin" }, "test")).token;
  const url = server.url;
  return {
    server,
    url,
    admin,
    dbSpec: made.spec,
    hostToken: async (host, o = {}) => (await createToken(server.ctx.db, { kind: "host", host, ...o })).token,
    api: async (method, path, o = {}) => {
      const headers: Record<string, string> = { ...o.headers };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      let body: string | undefined;
      if (o.raw !== undefined) body = o.raw;
      else if (o.body !== undefined) body = JSON.stringify(o.body);
      if (body !== undefined) headers["content-type"] ??= "application/json";
      const res = await fetch(url + path, { method, headers, body });
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text, headers: res.headers };
    },
    close: async () => {
      await server.close();
      made.cleanup();
    },
  };
}
