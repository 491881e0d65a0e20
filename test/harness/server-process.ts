/**
 * `oscd server` as its own process from the built CLI (as a fleet runs it: a process that can be
 * killed mid-rollout), and a database with thousands of host tokens written in bulk. The fleet
 * benches (bench/fleet.ts) and the multi-server tests share it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setPriority } from "node:os";
import { createInterface } from "node:readline";
import { formatPublicKey, publicKeyOf } from "../../src/nix/index.js";
import { createToken, openDatabase } from "../../src/server/index.js";
import { hashSecret } from "../../src/server/auth.js";
import { FLEET_KEY } from "./control-server.js";
import { OSCD_BIN } from "./oscd.js";
import { freePort } from "./postgres.js";

/** N host tokens (and their hosts, on `channel`) written in bulk, and an admin token. */
export async function prepareFleetDatabase(spec: string, hosts: readonly string[], channel: string): Promise<{ tokens: Map<string, string>; admin: string }> {
  const d = await openDatabase(spec);
  try {
    const tokens = new Map<string, string>();
    const now = Date.now();
    for (let i = 0; i < hosts.length; i += 500) {
      const chunk = hosts.slice(i, i + 500);
      const rows = chunk.map((host) => {
        const id = randomBytes(8).toString("hex");
        const secret = randomBytes(32).toString("base64url");
        tokens.set(host, `oscd_${id}_${secret}`);
        return { id, hash: hashSecret(secret), kind: "host" as const, host, label: "bench", created_at: now, revoked_at: null };
      });
      await d.db.transaction().execute(async (trx) => {
        await trx.insertInto("hosts").values(chunk.map((name) => ({ name, tags: "[]", channel, created_at: now, last_seen: null, state: null, status: "new", reason: null }))).execute();
        await trx.insertInto("tokens").values(rows).execute();
      });
    }
    const admin = (await createToken(d.db, { kind: "admin" }, "bench")).token;
    return { tokens, admin };
  } finally {
    await d.close();
  }
}

export interface ServerProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Ends it (SIGTERM, or SIGKILL for a crash) and waits. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `oscd server` from the built CLI, as a fleet runs it; `port` to start one again where it was. */
export async function startOscdServer(db: string, opts: { port?: number; quiet?: boolean; args?: readonly string[] } = {}): Promise<ServerProcess> {
  const port = opts.port ?? (await freePort());
  // OSCD_BENCH_SERVER_FLAGS: node flags for the server (e.g. --cpu-prof, to see where its time goes).
  const flags = process.env.OSCD_BENCH_SERVER_FLAGS?.split(" ").filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...flags, OSCD_BIN, "server", "--db", db, "--listen", `127.0.0.1:${port}`, "--trusted-key", formatPublicKey(publicKeyOf(FLEET_KEY)), ...(opts.args ?? [])], { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  let log = "";
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stderr! });
    lines.on("line", (l) => {
      log += l + "\n";
      if (l.includes("listening on")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`oscd server exited ${code}: ${log.slice(-2000)}`)));
  });
  if (!opts.quiet) child.stderr!.on("data", (b: Buffer) => process.stderr.write(`[server ${port}] ${b.toString()}`));
  else child.stderr!.resume();
  return serverProcess(child, `http://127.0.0.1:${port}`, exited);
}

/** A started server process at `url` (`exited`: settles when it exits), stopped by a signal. */
export function serverProcess(child: ChildProcess, url: string, exited: Promise<void>): ServerProcess {
  return {
    url,
    pid: child.pid as number,
    child,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/**
 * Runs processes at a higher priority (nice `level`, root only; OSCD_BENCH_NICE=0 turns it off):
 * on a machine shared with other jobs, the server and its load generator would otherwise get
 * a tenth of a core each and measure the neighbours. Returns the level applied, or 0.
 */
export function favour(pids: readonly number[], level = Number(process.env.OSCD_BENCH_NICE ?? -5)): number {
  if (level === 0 || process.getuid?.() !== 0) return 0;
  for (const pid of pids) {
    try {
      setPriority(pid, level);
    } catch {
      return 0;
    }
  }
  return level;
}

/** One API request to a server process with a token; the answer as text and, when it is JSON, parsed. */
export async function api(base: string, token: string, method: string, path: string, body?: string): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}
