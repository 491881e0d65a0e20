import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { readJson, writeJsonAtomic } from "../core/atomic.js";
import { run } from "../core/exec.js";

/**
 * The agent moving to a new version of itself. The NixOS module sets `restartIfChanged = false`
 * (a switch must not kill the agent that runs it), so after a committed switch the agent compares
 * its own unit as the new system installs it (`<toplevel>/etc/systemd/system/<unit>`: package,
 * settings, environment) with the unit it was started from; when they differ it restarts into
 * the new one once its state is written:
 * - where systemd runs, `systemctl restart` from a transient unit (`oscd agent self-update-watch`,
 *   run by this, the old, package), which waits for the new agent to answer on the control socket
 *   and otherwise stops the unit and brings the old agent back in a transient unit of its own;
 * - elsewhere (containers, the test hosts), the agent closes its socket and sources, starts the
 *   new unit's command itself and waits for it to answer; it then exits, or, when the new one
 *   does not come up, ends it and carries on as before.
 * Either way a marker file says how it went, and the agent that runs afterwards reports it.
 */

export interface SelfUpdateMarker {
  state: "handing-over" | "done" | "failed" | "failed-reported";
  /** SHA-256 of the unit text being moved to. */
  unitHash: string;
  fromVersion: string;
  fromPid: number;
  at: string;
  how: "systemd" | "handover";
  toPid?: number;
  reason?: string;
}

export const markerFile = (stateDir: string) => join(stateDir, "agent", "self-update.json");

export async function readMarker(stateDir: string): Promise<SelfUpdateMarker | undefined> {
  return readJson<SelfUpdateMarker>(markerFile(stateDir)).catch(() => undefined);
}

export async function writeMarker(stateDir: string, m: SelfUpdateMarker): Promise<void> {
  await writeJsonAtomic(markerFile(stateDir), m, 0o600);
}

export const unitHash = (text: string) => createHash("sha256").update(text).digest("hex");

/** The agent's unit as a system installs it; undefined when that system has none. */
export async function unitOf(system: string, unit: string): Promise<string | undefined> {
  try {
    return await readFile(join(system, "etc", "systemd", "system", unit), "utf8");
  } catch {
    return undefined;
  }
}

/** Splits a systemd command line: whitespace separates words, double or single quotes group them. */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: string | undefined;
  let any = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      any = true;
    } else if (/\s/.test(c)) {
      if (any || cur) out.push(cur);
      cur = "";
      any = false;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
      any = true;
    } else {
      cur += c;
      any = true;
    }
  }
  if (any || cur) out.push(cur);
  return out;
}

/**
 * The command and environment of a unit's service: the last `ExecStart=` (its prefixes `-@:+!`
 * dropped) and every `Environment=` assignment. Undefined without an ExecStart.
 */
export function serviceCommand(unitText: string): { argv: string[]; env: Record<string, string> } | undefined {
  let argv: string[] | undefined;
  const env: Record<string, string> = {};
  for (const raw of unitText.split("\n")) {
    const line = raw.trim();
    const exec = /^ExecStart\s*=\s*(.*)$/.exec(line);
    if (exec) {
      const words = splitCommandLine((exec[1] as string).replace(/^[-@:+!]+/, ""));
      argv = words.length > 0 ? words : undefined;
      continue;
    }
    const e = /^Environment\s*=\s*(.*)$/.exec(line);
    if (e) {
      for (const word of splitCommandLine(e[1] as string)) {
        const eq = word.indexOf("=");
        if (eq > 0) env[word.slice(0, eq)] = word.slice(eq + 1);
      }
    }
  }
  return argv ? { argv, env } : undefined;
}

/**
 * The control socket the new agent will listen on: its `--config` file's `controlSocket` when
 * the command names one that can be read, else the running agent's.
 */
export async function socketOf(cmd: { argv: string[] }, fallback: string): Promise<string> {
  const i = cmd.argv.indexOf("--config");
  const file = i >= 0 ? cmd.argv[i + 1] : undefined;
  if (!file) return fallback;
  try {
    const c = JSON.parse(await readFile(file, "utf8")) as { controlSocket?: unknown };
    return typeof c.controlSocket === "string" ? c.controlSocket : "/run/oscd/agent.sock";
  } catch {
    return fallback;
  }
}

/** Whether this process runs in the given systemd unit (its cgroup), not started by hand beside it. */
export async function runsInUnit(unit: string): Promise<boolean> {
  const cg = await readFile("/proc/self/cgroup", "utf8").catch(() => "");
  return cg.split("\n").some((l) => l.endsWith(`/${unit}`));
}

/** Polls `ready` until it says yes, `gone` says the candidate died, or the time is up. */
export async function waitUntil(ready: () => Promise<boolean>, gone: () => boolean, timeoutMs: number): Promise<"ready" | "gone" | "timeout"> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ready()) return "ready";
    if (gone()) return "gone";
    if (Date.now() > deadline) return "timeout";
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Starts the new agent (no systemd): its own session and process group, the log descriptors of
 * this one, the unit's environment over this one's.
 */
export function startDetached(cmd: { argv: string[]; env: Record<string, string> }): { pid: number; exited: () => boolean; kill: () => void } {
  const [file, ...args] = cmd.argv as [string, ...string[]];
  const child = spawn(file, args, { detached: true, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, ...cmd.env } });
  let exited = false;
  child.on("exit", () => (exited = true));
  child.on("error", () => (exited = true));
  child.unref();
  return {
    pid: child.pid ?? 0,
    exited: () => exited,
    kill: () => {
      if (child.pid) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    },
  };
}

/**
 * Where systemd runs: the watcher in a transient unit of its own (so the restart does not end it
 * with the agent's cgroup), run by this agent's own Node and oscd, so the old version is what
 * watches and, if needed, comes back.
 */
export function watcherCommand(o: { unit: string; socket: string; stateDir: string; timeoutSec: number; previousPid: number }): string[] {
  const name = `oscd-agent-update-${Date.now()}-${randomBytes(3).toString("hex")}`;
  const self = [process.execPath, ...process.execArgv, process.argv[1] as string];
  return [
    "systemd-run",
    `--unit=${name}`,
    "--collect",
    "--quiet",
    ...Object.entries(process.env)
      .filter(([k]) => k === "PATH" || k === "NODE_OPTIONS")
      .map(([k, v]) => `--setenv=${k}=${v ?? ""}`),
    "--",
    ...self,
    "agent",
    "self-update-watch",
    "--unit",
    o.unit,
    "--socket",
    o.socket,
    "--state-dir",
    o.stateDir,
    "--timeout",
    String(o.timeoutSec),
    "--previous-pid",
    String(o.previousPid),
    "--",
    ...self,
    ...process.argv.slice(2),
  ];
}

export async function startWatcher(argv: readonly string[]): Promise<void> {
  const r = await run(argv[0] as string, argv.slice(1), { timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new Error(`systemd-run exited ${r.exitCode}: ${r.stderr.trim().split("\n").pop() ?? ""}`);
}
