/**
 * Control server throughput: reports per second and manifest requests per second (200 and 304)
 * over SQLite and PostgreSQL. The server runs in a process of its own (this file with --child),
 * so the load generator and the server do not share one event loop.
 *
 *   npm run bench -- server [SECONDS=5] [CONNECTIONS=100]
 *
 * Beside each rate, the server process's CPU time per request (its user + system over the
 * measurement, divided by the requests answered): the rate follows the load of a shared
 * machine, the CPU a request costs much less.
 *
 * Targets on a 2-core machine with SQLite (issue 12): ≥ 5,000 reports/s, ≥ 20,000 manifest 304/s.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { publicKeyOf } from "../src/nix/index.js";
import { serializeManifest } from "../src/manifest/index.js";
import { createToken, startServer } from "../src/server/index.js";
import { FLEET_KEY, newDbSpec, signedManifest, stopTestPostgres, type Dialect } from "../test/harness/control-server.js";
import { httpClient } from "../test/harness/server-load.js";
import { machine, processCpuMs } from "./_measure.js";

const HOSTS = 1000;

async function child(spec: string): Promise<void> {
  const s = await startServer({ db: spec, trusted: [publicKeyOf(FLEET_KEY)], listen: "127.0.0.1:0" });
  const admin = (await createToken(s.ctx.db, { kind: "admin" })).token;
  const hosts: string[] = [];
  for (let i = 0; i < HOSTS; i++) hosts.push((await createToken(s.ctx.db, { kind: "host", host: `h${i}`, channel: "main" })).token);
  const names = Array.from({ length: HOSTS }, (_, i) => `h${i}`);
  const res = await fetch(`${s.url}/api/v1/releases?immediate=1`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: serializeManifest(signedManifest("main", 1, names)) });
  if (res.status !== 201) throw new Error(`upload failed: ${res.status}`);
  process.stdout.write(JSON.stringify({ url: s.url, hosts }) + "\n");
  process.stdin.resume();
  process.stdin.on("end", () => void s.close().then(() => process.exit(0)));
}

async function drive(pid: number, seconds: number, connections: number, url: string, next: (i: number) => { method: string; path: string; headers: Record<string, string>; body?: string }, expect: number): Promise<{ perSecond: number; errors: number; cpuUsPerRequest: number }> {
  const client = httpClient(url, connections);
  const cpu0 = processCpuMs(pid);
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  let counter = 0;
  const start = Date.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < deadline) {
        const r = next(counter++);
        try {
          const res = await client.request(r.method, r.path, r.headers, r.body);
          if (res.status === expect) done++;
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  client.close();
  return { perSecond: done / ((Date.now() - start) / 1000), errors, cpuUsPerRequest: ((processCpuMs(pid) - cpu0) * 1000) / Math.max(1, done) };
}

async function bench(dialect: Dialect, seconds: number, connections: number): Promise<string[]> {
  const { spec, cleanup } = await newDbSpec(dialect);
  const proc = spawn(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname, "--child", spec], { stdio: ["pipe", "pipe", "inherit"] });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).once("line", resolve);
      proc.once("exit", (c) => reject(new Error(`server exited ${c}`)));
    });
    const { url, hosts } = JSON.parse(line) as { url: string; hosts: string[] };
    const auth = (i: number) => ({ authorization: `Bearer ${hosts[i % hosts.length]}` });
    const path = "/api/v1/channels/main/manifest";
    const first = await fetch(url + path, { headers: auth(0) });
    const etag = first.headers.get("etag") as string;
    const pid = proc.pid as number;
    const reports = await drive(pid, seconds, connections, url, (i) => ({ method: "POST", path: "/api/v1/reports", headers: auth(i), body: JSON.stringify({ id: `r${i}`, status: "success", generation: 1 }) }), 201);
    const full = await drive(pid, seconds, connections, url, (i) => ({ method: "GET", path, headers: auth(i) }), 200);
    const cached = await drive(pid, seconds, connections, url, (i) => ({ method: "GET", path, headers: { ...auth(i), "if-none-match": etag } }), 304);
    const f = (x: { perSecond: number; errors: number; cpuUsPerRequest: number }) => `${Math.round(x.perSecond).toString().padStart(7)}/s (${Math.round(x.cpuUsPerRequest)} µs CPU each)${x.errors ? ` (${x.errors} errors)` : ""}`;
    return [`${dialect.padEnd(9)} reports ${f(reports)}   manifest 200 ${f(full)}   manifest 304 ${f(cached)}`];
  } finally {
    proc.stdin!.end();
    await new Promise((r) => proc.once("exit", r));
    cleanup();
  }
}

if (process.argv[2] === "--child") {
  await child(process.argv[3] as string);
} else {
  const seconds = Number(process.argv[2] ?? 5);
  const connections = Number(process.argv[3] ?? 100);
  console.log(`control server: ${HOSTS} host tokens, ${connections} connections, ${seconds}s per measurement (${machine()})`);
  try {
    for (const d of ["sqlite", "postgres"] as const) for (const l of await bench(d, seconds, connections)) console.log(l);
    console.log(`(${machine()})`);
  } finally {
    stopTestPostgres();
  }
}
