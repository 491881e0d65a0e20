/**
 * A process of simulated agents (sim-agents.ts), driven over stdin/stdout in JSON lines:
 *
 *   stdin, first line:  {"agents": SimAgentSpec[], "options": SimAgentOptions}
 *   stdin, later:       {"cmd": "status"} | {"cmd": "stop"}
 *   stdout:             {"t":"received","s":SEQ,"at":[…],"hosts":[…]}   (batched every 50 ms)
 *                       {"t":"acked","s":SEQ,"ids":[…],"created":[…]}    (batched)
 *                       {"t":"status","holding":N,"agents":N,"errors":N,"errorSamples":[…]}
 *                       {"t":"stopped"}
 *
 * Run by `simAgentProcess()` below with `node --import tsx`, so the bench and the tests share it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { SimAgent, type SimAgentOptions, type SimAgentSpec } from "./sim-agents.js";

export interface SimStatus {
  holding: number;
  agents: number;
  errors: number;
  errorSamples: string[];
}

export interface SimAgentProcess {
  child: ChildProcess;
  status(): Promise<SimStatus>;
  stop(): Promise<void>;
}

/** Starts a process of `agents`; `onReceived`/`onAcked` hear of each batch. */
export function simAgentProcess(
  agents: SimAgentSpec[],
  options: SimAgentOptions,
  on: { received(sequence: number, host: string, at: number): void; acked(sequence: number, host: string, id: string, created: boolean): void },
): SimAgentProcess {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  const child = spawn(process.execPath, ["--import", tsx, fileURLToPath(import.meta.url), "--child"], { stdio: ["pipe", "pipe", "inherit"] });
  const waiting: ((s: SimStatus) => void)[] = [];
  let stopped: (() => void) | undefined;
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const m = JSON.parse(line) as { t: string; s?: number; at?: number[]; hosts?: string[]; ids?: string[]; created?: boolean[] } & SimStatus;
    if (m.t === "received") m.hosts?.forEach((h, i) => on.received(m.s as number, h, m.at?.[i] as number));
    else if (m.t === "acked") m.hosts?.forEach((h, i) => on.acked(m.s as number, h, m.ids?.[i] as string, m.created?.[i] as boolean));
    else if (m.t === "status") waiting.shift()?.(m);
    else if (m.t === "stopped") stopped?.();
  });
  child.stdin!.write(JSON.stringify({ agents, options }) + "\n");
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    child,
    status: () =>
      new Promise<SimStatus>((resolve, reject) => {
        if (child.exitCode !== null) return reject(new Error(`the agents' process exited (${child.exitCode})`));
        waiting.push(resolve);
        child.stdin!.write('{"cmd":"status"}\n');
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const done = new Promise<void>((r) => (stopped = r));
        child.stdin!.write('{"cmd":"stop"}\n');
        await Promise.race([done, exited, new Promise((r) => setTimeout(r, 10_000))]);
        child.stdin!.end();
      }
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

async function childMain(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  const it = lines[Symbol.asyncIterator]();
  const first = await it.next();
  const { agents, options } = JSON.parse(String(first.value)) as { agents: SimAgentSpec[]; options: SimAgentOptions };
  // Each agent's token in a file of its own, as a machine's agent has it.
  const dir = mkdtempSync(join(tmpdir(), "oscd-sim-agents-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  for (const a of agents) {
    a.tokenFile = join(dir, a.host);
    writeFileSync(a.tokenFile, a.token + "\n", { mode: 0o600 });
  }
  const received = new Map<number, { hosts: string[]; at: number[] }>();
  const acked = new Map<number, { hosts: string[]; ids: string[]; created: boolean[] }>();
  let errors = 0;
  const errorSamples: string[] = [];
  const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + "\n");
  const flush = () => {
    for (const [s, b] of received) out({ t: "received", s, ...b });
    for (const [s, b] of acked) out({ t: "acked", s, ...b });
    received.clear();
    acked.clear();
  };
  const timer = setInterval(flush, 50);
  const sims = agents.map(
    (a) =>
      new SimAgent(a, options, {
        received(host, s, at) {
          let b = received.get(s);
          if (!b) received.set(s, (b = { hosts: [], at: [] }));
          b.hosts.push(host);
          b.at.push(at);
        },
        acknowledged(host, s, id, created) {
          let b = acked.get(s);
          if (!b) acked.set(s, (b = { hosts: [], ids: [], created: [] }));
          b.hosts.push(host);
          b.ids.push(id);
          b.created.push(created);
        },
        error(what) {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(what);
        },
      }),
  );
  const running = sims.map((s) => s.run());
  for (;;) {
    const next = await it.next();
    if (next.done) break;
    const cmd = (JSON.parse(String(next.value)) as { cmd: string }).cmd;
    if (cmd === "status") {
      flush();
      out({ t: "status", holding: sims.filter((s) => s.holding).length, agents: sims.length, errors, errorSamples });
    } else if (cmd === "stop") break;
  }
  for (const s of sims) s.stop();
  await Promise.race([Promise.all(running), new Promise((r) => setTimeout(r, 5000))]);
  flush();
  clearInterval(timer);
  out({ t: "stopped" });
  process.exit(0);
}

if (process.argv[2] === "--child") void childMain();
