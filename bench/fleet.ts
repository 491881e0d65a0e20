/**
 * 10,000 agents on `oscd server` (issue 27): simulated agents (the real agent's manifest protocol
 * and report contract, no engine) long-poll for their manifest, report after each "deployment" and
 * are alive by those long-polls (the real agent sends no heartbeat). Measured: connections held, the server's CPU and RSS while idle, and from a
 * rollout wave's start (then an immediate release) to every agent holding the new manifest,
 * p50/p99/max; every report stored exactly once.
 *
 *   npm run bench -- fleet [AGENTS=10000] [IDLE_SECONDS=60]                     one server, SQLite
 *   npm run bench -- fleet [AGENTS] [IDLE_SECONDS] --servers 2 --db postgres   two servers, one PostgreSQL
 *   npm run bench -- fleet [AGENTS] [IDLE_SECONDS] --long-poll 240             servers hold long-polls 240 s
 *   npm run bench -- fleet [AGENTS] [IDLE_SECONDS] --client agent              the agent's own node:http client
 *
 * The agents' requests (manifest long-polls and reports) go out on bare sockets
 * (test/harness/wire-manifest-source.ts: the bytes the real client sends, proved by its test,
 * read with a parser that knows only the server's answers). The real client (`--client agent`)
 * needs ~600 µs of CPU per answer read and long-poll renewed on this machine, 6–7 s per wave of
 * 10,000 on the two cores the server uses, so the wave measured the generator; on a fleet each
 * agent reads its answer on its own machine.
 *
 * The idle window lasts at least one hold, so every agent renews in it once whatever its phase.
 *
 * With several servers the agents are split between them (each lists them all, its own first,
 * as behind a load balancer); releases are uploaded through the first and rollouts started
 * through the last, so every wave crosses servers through LISTEN/NOTIFY. Then one more rollout
 * starts and the first server is killed (SIGKILL) while its wave is under way: its agents go
 * to the other, the rollout finishes there, and no report is lost or stored twice.
 *
 * Then the baseline (`--no-baseline`: not): the same agents against a bare `node:http` server
 * speaking the same protocol with nothing of oscd in it (bench/_bare-longpoll.ts), idle for the
 * same time and then given one release at once: what this machine and this load generator
 * allow at all, printed beside each of oscd's numbers.
 *
 * Targets: p99 ≤ 2 s and max ≤ 5 s for every agent in one wave; idle CPU ≤ 5 % of a core and
 * RSS ≤ 1 GiB per server. The load generator shares the machine's cores with the servers, so
 * the latencies include the generator's own time to read 10,000 answers. The servers and the
 * generator run at nice -5 (OSCD_BENCH_NICE=0: not) so neighbours on a shared machine do not
 * starve them; the load average is printed beside every number.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { openDatabase } from "../src/server/index.js";
import { ensureBuilt } from "../test/harness/oscd.js";
import { favour } from "../test/harness/server-process.js";
import { startTestPostgres, type TestPostgres } from "../test/harness/postgres.js";
import { agentOptions, api, baseline, readCost, wakeSummary, wakeTotals, CHANNEL, connected, Fleet, requestCounts, requestRates, hostNames, WITH_VIEWS, idle, ms, prepareDatabase, release, startOscdServer, until, uploadRelease, waitingCount, wave, type ServerProcess, type WaveResult } from "./_fleet.js";
import { machine, Targets } from "./_measure.js";

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !(all[i - 1] ?? "").startsWith("--"));
const n = Number(positional[0] ?? 10_000);
const idleSeconds = Number(positional[1] ?? 60);
const serverCount = Number(flag("--servers") ?? 1);
const dialect = flag("--db") ?? (serverCount > 1 ? "postgres" : "sqlite");
/** The servers' `--long-poll-seconds` (the agents ask for it); undefined: the server's default, 55. */
const hold = flag("--long-poll") === undefined ? undefined : Number(flag("--long-poll"));
const client = (flag("--client") ?? "wire") as "wire" | "agent";
if (!(client === "wire" || client === "agent") || !Number.isInteger(n) || n < 1 || !Number.isInteger(serverCount) || serverCount < 1 || (dialect !== "sqlite" && dialect !== "postgres") || (dialect === "sqlite" && serverCount > 1) || (hold !== undefined && !(Number.isInteger(hold) && hold >= 1 && hold <= 300))) {
  console.error("usage: fleet [AGENTS] [IDLE_SECONDS] [--servers N --db sqlite|postgres] [--long-poll 1-300] [--client wire|agent] (several servers need postgres)");
  process.exit(2);
}

/** Per release: rows, distinct hosts, and hosts with more than one row. */
async function storedReports(spec: string, sequence: number): Promise<{ rows: number; hosts: number; twice: number }> {
  const d = await openDatabase(spec);
  try {
    const r = await d.db
      .selectFrom("reports")
      .select([sql<number>`count(*)`.as("rows"), sql<number>`count(distinct host)`.as("hosts")])
      .where("kind", "=", "report")
      .where("channel", "=", CHANNEL)
      .where("sequence", "=", sequence)
      .executeTakeFirstOrThrow();
    const twice = await d.db.selectFrom("reports").select("host").where("kind", "=", "report").where("channel", "=", CHANNEL).where("sequence", "=", sequence).groupBy("host").having(sql`count(*)`, ">", 1).execute();
    return { rows: Number(r.rows), hosts: Number(r.hosts), twice: twice.length };
  } finally {
    await d.close();
  }
}

async function rolloutDone(base: string, admin: string, id: string, fleet: Fleet): Promise<number> {
  type View = { state?: string; reason?: string; waves?: { name: string; state: string; hosts: string[]; healthy: string[]; failed: string[] }[] };
  let last: View = {};
  try {
    return await until("the rollout to finish", 180_000, async () => (last = (await api(base, admin, "GET", `/api/v1/rollouts/${id}`)).json as View).state === "done", 1000);
  } catch (e) {
    // Where it stands, so a run that cannot finish says why.
    console.log(`rollout ${id}: ${last.state} ${last.reason ?? ""}; ${(last.waves ?? []).map((w) => `${w.name} ${w.state} ${w.healthy.length} healthy ${w.failed.length} failed of ${w.hosts.length}`).join("; ")}`);
    const st = await fleet.status();
    const acked = [...fleet.acked.values()].map((m, i) => `#${[...fleet.acked.keys()][i]}: ${m.size}`).join(", ");
    console.log(`reports acknowledged (${acked}); agents' errors so far: ${st.errors}${st.errors ? ` (e.g. ${st.errorSamples.join(" | ")})` : ""}`);
    throw e;
  }
}

/** A rollout of `sequence`: one wave of every host, or `first` then the rest. */
async function startRollout(base: string, admin: string, sequence: number, first?: string[]): Promise<string> {
  const body = { channel: CHANNEL, sequence, bakeSeconds: 0, ...(first ? { waves: [{ hosts: first }] } : {}) };
  const r = await api(base, admin, "POST", "/api/v1/rollouts", JSON.stringify(body));
  if (r.status !== 201) throw new Error(`rollout refused: ${r.status} ${r.text.slice(0, 300)}`);
  return (r.json as { id: string }).id;
}

async function main(): Promise<void> {
  await ensureBuilt();
  const dir = await mkdtemp(join(tmpdir(), "oscd-bench-fleet-"));
  let pg: TestPostgres | undefined;
  const spec = dialect === "sqlite" ? `sqlite:${join(dir, "server.db")}` : (pg = await startTestPostgres()).createDatabase("oscd_bench_fleet");
  const hosts = hostNames(n);
  const what = serverCount === 1 ? `one oscd server (${dialect === "sqlite" ? "SQLite" : "PostgreSQL"})` : `${serverCount} oscd servers on one ${dialect === "sqlite" ? "SQLite" : "PostgreSQL"}`;
  console.log(`\n${n} simulated agents on ${what}, ${WITH_VIEWS ? "each served its own signed host view" : "each served the whole manifest"}; ${machine()}`);
  const { tokens, admin } = await prepareDatabase(spec, hosts);
  const servers: ServerProcess[] = [];
  let fleet: Fleet | undefined;
  try {
    for (let i = 0; i < serverCount; i++) servers.push(await startOscdServer(spec, { quiet: serverCount > 1, args: hold === undefined ? [] : ["--long-poll-seconds", String(hold)] }));
    const urls = servers.map((s) => s.url);
    const first = servers[0] as ServerProcess;
    const last = servers.at(-1) as ServerProcess;
    const live = () => servers.filter((s) => s.child.exitCode === null && s.child.signalCode === null);
    const pids = () => live().map((s) => s.pid);
    await uploadRelease(first.url, admin, release(1, hosts), true);
    // Each agent lists every server, its own first (agents split evenly, as a load balancer would).
    const specs = hosts.map((host, i) => ({ host, token: tokens.get(host) as string, servers: [...urls.slice(i % serverCount), ...urls.slice(0, i % serverCount)] }));
    fleet = new Fleet(specs, agentOptions(n, client));
    console.log(client === "wire" ? "manifest client: the agent's requests on a bare socket (--client agent: the agent's node:http client)" : "manifest client: the agent's own (node:http)");
    const f = fleet;
    const nice = favour([...pids(), ...f.pids, process.pid]);
    if (nice) console.log(`servers and load generator at nice ${nice} (OSCD_BENCH_NICE=0: not)`);
    const connectMs = await connected(f, urls, n, 1);
    console.log(`all ${n} agents hold a long-poll after ${(connectMs / 1000).toFixed(1)} s (started over ${(agentOptions(n, client).startSpreadMs / 1000).toFixed(0)} s)`);
    // Idle means no release in flight: the first release's reports are all in before it is measured.
    await until("every report of #1 acknowledged", 120_000, () => (f.acked.get(1)?.size ?? 0) >= n, 200);
    const counted = await Promise.all(urls.map(requestCounts));
    const idleFor = Math.max(idleSeconds, hold ?? 55);
    const quiet = await Promise.all(servers.map((s) => idle(s.pid, idleFor)));
    const after = await Promise.all(urls.map(requestCounts));
    const held = (await Promise.all(urls.map(waitingCount))).reduce((a, b) => a + b, 0);
    servers.forEach((s, i) => {
      const q = quiet[i] as (typeof quiet)[number];
      console.log(`idle ${idleFor} s (long-polls held ${hold ?? 55} s), server ${i + 1}: CPU ${q.cpuPercent.toFixed(2)} % of a core, RSS ${q.rssMiB.toFixed(0)} MiB (peak ${q.peakMiB.toFixed(0)}), ${q.sockets} sockets; ${machine()}`);
      console.log(`  requests while idle: ${requestRates(counted[i] as Map<string, number>, after[i] as Map<string, number>, idleFor)}`);
    });
    console.log(`${held} long-polls held in all`);

    // A rollout of one wave with every host: uploaded through the first server, started through the last.
    await uploadRelease(first.url, admin, release(2, hosts), false);
    let rolloutId = "";
    const wakes0 = await Promise.all(urls.map(wakeTotals));
    const rollout = await wave(f, pids(), hosts, 2, async () => {
      rolloutId = await startRollout(last.url, admin, 2);
    });
    console.log(`rollout wave: ${rollout.latencies.length}/${n} agents, p50 ${ms(rollout.p50)}, p99 ${ms(rollout.p99)}, max ${ms(rollout.max)}, CPU servers ${ms(rollout.serverCpuMs)} agents ${ms(rollout.agentsCpuMs)}; ${machine()}`);
    const wakes1 = await Promise.all(urls.map(wakeTotals));
    console.log(`  servers' own part (from the notice to the last answer written): ${wakeSummary(wakes0, wakes1)}`);
    const doneMs = await rolloutDone(last.url, admin, rolloutId, f);
    console.log(`  every report in and the rollout done ${(doneMs / 1000).toFixed(1)} s later`);
    const view = await readCost(last.url, admin, last.pid, `/api/v1/rollouts/${rolloutId}`);
    const list = await readCost(last.url, admin, last.pid, "/api/v1/rollouts?limit=10");
    console.log(`  reading it (every host reported), median of 5: the rollout ${ms(view.wallMs)} (server CPU ${ms(view.cpuMs)}, ${view.mb.toFixed(1)} MB), the dashboard's list ${ms(list.wallMs)} (${ms(list.cpuMs)}, ${list.mb.toFixed(1)} MB)`);

    // "Release to every host now": the release is uploaded (its views checked) first, then made complete.
    const uploadMs = await uploadRelease(first.url, admin, release(3, hosts), false);
    const wakes2 = await Promise.all(urls.map(wakeTotals));
    const immediate = await wave(f, pids(), hosts, 3, async () => {
      const r = await api(last.url, admin, "POST", `/api/v1/releases/${CHANNEL}/3/complete`);
      if (r.status !== 200) throw new Error(`complete refused: ${r.status} ${r.text.slice(0, 300)}`);
    });
    console.log(`uploading release #3 with ${WITH_VIEWS ? `${n} host views` : "no host views"} took ${(uploadMs / 1000).toFixed(1)} s (each view verified)`);
    console.log(`immediate release: ${immediate.latencies.length}/${n} agents, p50 ${ms(immediate.p50)}, p99 ${ms(immediate.p99)}, max ${ms(immediate.max)}, CPU servers ${ms(immediate.serverCpuMs)} agents ${ms(immediate.agentsCpuMs)}; ${machine()}`);
    console.log(`  servers' own part (from the notice to the last answer written): ${wakeSummary(wakes2, await Promise.all(urls.map(wakeTotals)))}`);
    await until("every report of #3 acknowledged", 120_000, () => (f.acked.get(3)?.size ?? 0) >= n, 200).catch(() => undefined);
    const busy = await Promise.all(live().map((s) => idle(s.pid, 1)));

    // Several servers: a rollout of two waves, and the first server killed while the first wave deploys.
    let killed: { result: WaveResult; doneMs: number } | undefined;
    if (serverCount > 1) {
      const canary = hosts.filter((_, i) => i % 10 === 0);
      await uploadRelease(first.url, admin, release(4, hosts), false);
      let id = "";
      const result = await wave(
        f,
        pids(),
        hosts,
        4,
        async () => {
          id = await startRollout(last.url, admin, 4, canary);
          await until("the canaries to hold #4", 60_000, () => canary.every((h) => f.received.get(4)?.has(h)), 50);
          await first.stop("SIGKILL");
          console.log(`server 1 killed (SIGKILL) with the first wave under way; its agents go to the others`);
        },
        300_000,
      );
      killed = { result, doneMs: await rolloutDone(last.url, admin, id, f) };
      console.log(`rollout across the kill: ${result.latencies.length}/${n} agents, p50 ${ms(result.p50)}, p99 ${ms(result.p99)}, max ${ms(result.max)} (agents of the killed server wait out their backoff); rollout done ${(killed.doneMs / 1000).toFixed(1)} s later; ${machine()}`);
      await until("every report of #4 acknowledged", 300_000, () => (f.acked.get(4)?.size ?? 0) >= n, 500).catch(() => undefined);
    }
    const status = await f.status();
    if (status.errors) console.log(`agent errors: ${status.errors} (e.g. ${status.errorSamples.join(" | ")})`);

    // The baseline, on the machine oscd's processes have left.
    let base: Awaited<ReturnType<typeof baseline>> | undefined;
    if (!process.argv.includes("--no-baseline")) {
      await f.stop();
      for (const s of servers) await s.stop();
      base = await baseline(specs, agentOptions(n, client), hold ?? 55, idleFor);
      console.log(`baseline, bare node:http with the same ${n} agents: idle ${idleFor} s CPU ${base.cpuPercent.toFixed(2)} % of a core (RSS ${base.rssMiB.toFixed(0)} MiB); one release to every agent: p50 ${ms(base.wave.p50)}, p99 ${ms(base.wave.p99)}, max ${ms(base.wave.max)}, CPU server ${ms(base.wave.serverCpuMs)} agents ${ms(base.wave.agentsCpuMs)}; ${machine()}`);
    }
    const bareNote = (x: number | undefined, unit: string) => (x === undefined ? "" : `bare node:http: ${x.toFixed(2)}${unit}`);

    const t = new Targets();
    const judge = (label: string, w: WaveResult) => {
      t.require(`${label}: every agent got it`, w.missing === 0, `${w.latencies.length}/${n}`);
      t.check(`${label}: p99 start → manifest held`, w.p99 / 1000, "<=", 2, { unit: " s", note: bareNote(base && base.wave.p99 / 1000, " s") });
      t.check(`${label}: max start → manifest held`, w.max / 1000, "<=", 5, { unit: " s", note: bareNote(base && base.wave.max / 1000, " s") });
    };
    judge(serverCount > 1 ? "rollout wave (started through another server)" : "rollout wave", rollout);
    judge("immediate release", immediate);
    quiet.forEach((q, i) => t.check(`idle CPU, server ${i + 1}`, q.cpuPercent, "<=", 5, { unit: " %", note: bareNote(base?.cpuPercent, serverCount > 1 ? " % (every agent on one)" : " %") }));
    t.check("RSS (peak of any server)", Math.max(...quiet.map((q) => q.peakMiB), ...busy.map((b) => b.peakMiB)), "<=", 1024, { unit: " MiB", digits: 0 });
    t.require("long-polls held", held >= n, `${held} of ${n}`);
    if (killed) {
      t.require("rollout across the kill: every agent got it", killed.result.missing === 0, `${killed.result.latencies.length}/${n}`);
    }
    for (const s of serverCount > 1 ? [2, 3, 4] : [2, 3]) {
      const db = await storedReports(spec, s);
      const acked = f.acked.get(s);
      const created = [...(acked?.values() ?? [])].filter((a) => a.created > 1).length;
      t.require(`reports of #${s}: each stored once`, db.rows === n && db.hosts === n && db.twice === 0 && (acked?.size ?? 0) === n && created === 0, `${db.rows} rows, ${db.hosts} hosts, ${acked?.size ?? 0} acknowledged`);
    }
    t.print(`fleet, ${n} agents, ${serverCount} server(s), ${dialect}, long-polls held ${hold ?? 55} s`);
  } finally {
    await fleet?.stop();
    for (const s of servers) await s.stop();
    pg?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
