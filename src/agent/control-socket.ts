import { chmod, mkdir, rm } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import { OscdError } from "../core/errors.js";

/**
 * The agent's local control socket (a unix socket, mode 0600 in a 0700 directory: root only).
 * Newline-delimited JSON: the client sends one request line `{"command": "status" | "fetch" |
 * "suspend" | "resume" | "events"}`; the agent answers one JSON line, or for `events` a line per
 * event until the client hangs up.
 */
export type ControlCommand = "status" | "fetch" | "suspend" | "resume" | "events";
const COMMANDS: readonly ControlCommand[] = ["status", "fetch", "suspend", "resume", "events"];

export interface ControlHandlers {
  status(): Promise<unknown>;
  fetch(): Promise<unknown>;
  suspend(): Promise<unknown>;
  resume(): Promise<unknown>;
  /** Calls `send` for each event; returns the unsubscribe function. */
  events(send: (e: unknown) => void): () => void;
}

export async function serveControlSocket(path: string, h: ControlHandlers): Promise<Server> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // A socket file left by a killed agent: connecting fails, so it is stale and replaced.
  if (await isListening(path)) throw new OscdError("agent-running", `another agent already serves ${path}`, { hint: "stop it first (one agent per machine)", exitCode: 3 });
  await rm(path, { force: true });
  const open = new Set<Socket>();
  const server = createServer((sock) => {
    open.add(sock);
    sock.on("close", () => open.delete(sock));
    handle(sock, h);
  });
  // Closing ends event streams too: a watching client must not keep a stopping agent alive.
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const s of open) s.destroy();
    return close(cb);
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  await chmod(path, 0o600);
  return server;
}

function handle(sock: Socket, h: ControlHandlers): void {
  let buf = "";
  let done = false;
  sock.setEncoding("utf8");
  sock.on("error", () => sock.destroy());
  sock.on("data", (chunk: string) => {
    if (done) return;
    buf += chunk;
    if (buf.length > 4096) return sock.destroy();
    const nl = buf.indexOf("\n");
    if (nl < 0) return;
    done = true;
    let command: unknown;
    try {
      command = (JSON.parse(buf.slice(0, nl)) as { command?: unknown }).command;
    } catch {
      command = undefined;
    }
    if (!COMMANDS.includes(command as ControlCommand)) return void sock.end(JSON.stringify({ ok: false, error: `unknown command; one of ${COMMANDS.join(", ")}` }) + "\n");
    if (command === "events") {
      const off = h.events((e) => sock.write(JSON.stringify(e) + "\n"));
      sock.on("close", off);
      sock.write(JSON.stringify({ ok: true }) + "\n");
      return;
    }
    h[command as Exclude<ControlCommand, "events">]().then(
      (result) => sock.end(JSON.stringify({ ok: true, result }) + "\n"),
      (e: unknown) => sock.end(JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e) }) + "\n"),
    );
  });
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

export class AgentNotRunningError extends OscdError {
  constructor(path: string, detail: string) {
    super("agent-not-running", `no agent answers on ${path} (${detail})`, { hint: "start it (systemctl start oscd-agent, or oscd agent --config FILE), or name its socket with --socket" });
  }
}

/** One request, one answer. */
export async function controlRequest(path: string, command: Exclude<ControlCommand, "events">, timeoutMs = 10_000): Promise<unknown> {
  const lines = connect(path, command, timeoutMs);
  const first = (await lines.next()).value as string | undefined;
  await lines.return(undefined);
  if (first === undefined) throw new AgentNotRunningError(path, "no answer");
  const r = JSON.parse(first) as { ok: boolean; result?: unknown; error?: string };
  if (!r.ok) throw new OscdError("agent-command-failed", `the agent refused ${command}: ${String(r.error).split("\n")[0]}`);
  return r.result;
}

/** The live event stream, one parsed event per item. */
export async function* controlEvents(path: string): AsyncGenerator<unknown> {
  const lines = connect(path, "events", 0);
  const first = (await lines.next()).value as string | undefined;
  if (first === undefined) throw new AgentNotRunningError(path, "no answer");
  for await (const line of lines) yield JSON.parse(line) as unknown;
}

async function* connect(path: string, command: ControlCommand, timeoutMs: number): AsyncGenerator<string> {
  const sock = createConnection(path);
  sock.setEncoding("utf8");
  const queue: string[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let buf = "";
  const timer = timeoutMs > 0 ? setTimeout(() => sock.destroy(new Error("timed out")), timeoutMs) : undefined;
  sock.on("data", (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      queue.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    wake?.();
  });
  sock.on("error", (e) => {
    failure = e;
    wake?.();
  });
  sock.on("close", () => {
    ended = true;
    wake?.();
  });
  sock.write(JSON.stringify({ command }) + "\n");
  try {
    for (;;) {
      if (queue.length > 0) {
        if (timer && command !== "events") clearTimeout(timer);
        yield queue.shift() as string;
        continue;
      }
      if (failure) throw new AgentNotRunningError(path, (failure as NodeJS.ErrnoException).code ?? failure.message);
      if (ended) return;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
  } finally {
    if (timer) clearTimeout(timer);
    sock.destroy();
  }
}
