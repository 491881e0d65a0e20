/**
 * 10,000 agents on one `oscd server` over SQLite (issue 27): simulated agents (the real agent's
 * HTTP client and manifest protocol, no engine) long-poll for their manifest, report after each
 * "deployment" and send heartbeats. Measured: connections held, the server's CPU and RSS while
 * idle, and from a rollout wave's start (then an `--immediate` release) to every agent holding
 * the new manifest, p50/p99/max; every report stored exactly once.
 *
 *   npm run bench -- fleet [AGENTS=10000] [IDLE_SECONDS=60]
 *
 * Targets: p99 ≤ 2 s and max ≤ 5 s for every agent in one wave; idle CPU ≤ 5 % of a core and
 * RSS ≤ 1 GiB. The load generator shares the machine's cores with the server, so the latencies
 * include the generator's own time to read 10,000 answers.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { ensureBuilt } from "../test/harness/oscd.js";
import { agentOptions, api, CHANNEL, connected, Fleet, requestCounts, requestRates, hostNames, WITH_VIEWS, idle, ms, prepareDatabase, release, startOscdServer, until, uploadRelease, waitingCount, wave, type WaveResult } from "./_fleet.js";
import { machine, Targets } from "./_measure.js";

const n = Number(process.argv[2] ?? 10_000);
const idleSeconds = Number(process.argv[3] ?? 60);

function storedOnce(file: string, sequence: number): { rows: number; hosts: number } {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    const r = db.prepare("select count(*) as rows, count(distinct host) as hosts from reports where kind = 'report' and sequence = ?").get(sequence) as { rows: number; hosts: number };
    return r;
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  await ensureBuilt();
  const dir = await mkdtemp(join(tmpdir(), "oscd-bench-fleet-"));
  const file = join(dir, "server.db");
  const hosts = hostNames(n);
  console.log(`\n${n} simulated agents on one oscd server (SQLite), ${WITH_VIEWS ? "each served its own signed host view" : "each served the whole manifest"}; ${machine()}`);
  const { tokens, admin } = await prepareDatabase(`sqlite:${file}`, hosts);
  const server = await startOscdServer(`sqlite:${file}`);
  let fleet: Fleet | undefined;
  try {
    await uploadRelease(server.url, admin, release(1, hosts), true);
    fleet = new Fleet(
      hosts.map((host) => ({ host, token: tokens.get(host) as string, servers: [server.url] })),
      agentOptions(n),
    );
    const f = fleet;
    const connectMs = await connected(f, [server.url], n, 1);
    console.log(`all ${n} agents hold a long-poll after ${(connectMs / 1000).toFixed(1)} s (started over ${(agentOptions(n).startSpreadMs / 1000).toFixed(0)} s)`);
    const counted = await requestCounts(server.url);
    const quiet = await idle(server.pid, idleSeconds);
    const rates = requestRates(counted, await requestCounts(server.url), idleSeconds);
    const held = await waitingCount(server.url);
    console.log(`idle ${idleSeconds} s: server CPU ${quiet.cpuPercent.toFixed(2)} % of a core, RSS ${quiet.rssMiB.toFixed(0)} MiB (peak ${quiet.peakMiB.toFixed(0)}), ${quiet.sockets} sockets, ${held} long-polls held; ${machine()}`);
    console.log(`  requests while idle: ${rates}`);

    // A rollout of one wave with every host.
    await uploadRelease(server.url, admin, release(2, hosts), false);
    let rolloutId = "";
    const rollout = await wave(f, [server.pid], hosts, 2, async () => {
      const r = await api(server.url, admin, "POST", "/api/v1/rollouts", JSON.stringify({ channel: CHANNEL, sequence: 2, bakeSeconds: 0 }));
      if (r.status !== 201) throw new Error(`rollout refused: ${r.status} ${r.text.slice(0, 300)}`);
      rolloutId = (r.json as { id: string }).id;
    });
    const doneMs = await until("the rollout to finish", 120_000, async () => ((await api(server.url, admin, "GET", `/api/v1/rollouts/${rolloutId}`)).json as { state?: string }).state === "done", 1000);
    console.log(`rollout wave: ${rollout.latencies.length}/${n} agents, p50 ${ms(rollout.p50)}, p99 ${ms(rollout.p99)}, max ${ms(rollout.max)}, CPU server ${ms(rollout.serverCpuMs)} agents ${ms(rollout.agentsCpuMs)}; every report in and the rollout done ${(doneMs / 1000).toFixed(1)} s later; ${machine()}`);

    // "Release to every host now": the release is uploaded (its views checked) first, then made complete.
    const uploadMs = await uploadRelease(server.url, admin, release(3, hosts), false);
    const immediate = await wave(f, [server.pid], hosts, 3, async () => {
      const r = await api(server.url, admin, "POST", `/api/v1/releases/${CHANNEL}/3/complete`);
      if (r.status !== 200) throw new Error(`complete refused: ${r.status} ${r.text.slice(0, 300)}`);
    });
    console.log(`uploading release #3 with ${WITH_VIEWS ? `${n} host views` : "no host views"} took ${(uploadMs / 1000).toFixed(1)} s (each view verified)`);
    console.log(`immediate release: ${immediate.latencies.length}/${n} agents, p50 ${ms(immediate.p50)}, p99 ${ms(immediate.p99)}, max ${ms(immediate.max)}, CPU server ${ms(immediate.serverCpuMs)} agents ${ms(immediate.agentsCpuMs)}; ${machine()}`);
    await until("every report of #3 acknowledged", 120_000, () => (f.acked.get(3)?.size ?? 0) >= n, 200).catch(() => undefined);
    const busy = await idle(server.pid, 1);
    const status = await f.status();
    if (status.errors) console.log(`agent errors: ${status.errors} (e.g. ${status.errorSamples.join(" | ")})`);

    const t = new Targets();
    const judge = (what: string, w: WaveResult) => {
      t.require(`${what}: every agent got it`, w.missing === 0, `${w.latencies.length}/${n}`);
      t.check(`${what}: p99 start → manifest held`, w.p99 / 1000, "<=", 2, { unit: " s" });
      t.check(`${what}: max start → manifest held`, w.max / 1000, "<=", 5, { unit: " s" });
    };
    judge("rollout wave", rollout);
    judge("immediate release", immediate);
    t.check("idle server CPU", quiet.cpuPercent, "<=", 5, { unit: " %" });
    t.check("server RSS (peak)", Math.max(quiet.peakMiB, busy.peakMiB), "<=", 1024, { unit: " MiB", digits: 0 });
    t.require("long-polls held", held >= n, `${held} of ${n}`);
    for (const s of [2, 3]) {
      const db = storedOnce(file, s);
      const acked = f.acked.get(s);
      const twice = [...(acked?.values() ?? [])].filter((a) => a.created > 1).length;
      t.require(`reports of #${s}: each stored once`, db.rows === n && db.hosts === n && (acked?.size ?? 0) === n && twice === 0, `${db.rows} rows, ${db.hosts} hosts, ${acked?.size ?? 0} acknowledged`);
    }
    t.print(`fleet, ${n} agents, SQLite`);
  } finally {
    await fleet?.stop();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
