import { readFile, writeFile } from "node:fs/promises";
import { ensureBuilt, OSCD_BIN } from "./oscd.js";
import type { SimHost } from "./simhost.js";

/**
 * `oscd agent` running inside a SimHost as a long-lived process of the host (its PID namespace,
 * so a host reboot ends it too). Its JSON log goes to a file in the host's /root; `kill` sends
 * a signal by pid inside the host, `lines()` reads the log so far, `waitFor` polls a condition.
 */
export class AgentProcess {
  private constructor(
    readonly host: SimHost,
    readonly pid: number,
    readonly logFile: string,
  ) {}

  /** `wrap`: an argv prefix the agent runs under (e.g. a system call filter, syscall-filter.ts). */
  static async start(host: SimHost, config: unknown, opts: { env?: Record<string, string>; name?: string; wrap?: string[] } = {}): Promise<AgentProcess> {
    await ensureBuilt();
    const name = opts.name ?? "agent";
    const configFile = `/root/${name}.json`;
    const logFile = `/root/${name}.log`;
    await writeFile(host.path(configFile), JSON.stringify(config, null, 2));
    // setsid: its own session, like a service; all output to the log so exec returns at once.
    // The host's init is `sleep`, which reaps nothing, so a shell waits for the agent (as
    // systemd would): a killed agent leaves no zombie that still looks like a lock holder.
    const pidFile = `/root/${name}.pid`;
    await host.sh(["rm", "-f", pidFile]);
    await host.sh(["sh", "-c", 'setsid sh -c \'"$@" & echo $! > "$0"; wait\' "$0" "$@" >>"$LOG" 2>&1 </dev/null &', pidFile, ...(opts.wrap ?? []), "node", OSCD_BIN, "agent", "--config", configFile], { env: { ...opts.env, LOG: logFile } });
    let pid = 0;
    await waitFor(async () => (pid = Number((await readFile(host.path(pidFile), "utf8").catch(() => "")).trim())) > 0, 10_000, "the agent's pid");
    const r = { stdout: String(pid) };
    return new AgentProcess(host, Number(r.stdout.trim()), logFile);
  }

  async kill(signal: "KILL" | "TERM" = "TERM"): Promise<void> {
    await this.host.exec(["kill", `-${signal}`, String(this.pid)]);
    await waitFor(async () => !(await this.alive()), 20_000, `agent ${this.pid} to exit`);
  }

  async alive(): Promise<boolean> {
    const r = await this.host.exec(["sh", "-c", `test -d /proc/${this.pid} && ! grep -q '^State:.*Z' /proc/${this.pid}/status`]);
    return r.exitCode === 0;
  }

  /** The agent's JSON log lines so far (non-JSON lines, e.g. a crash trace, as { raw }). */
  async lines(): Promise<Record<string, unknown>[]> {
    const text = await readFile(this.host.path(this.logFile), "utf8").catch(() => "");
    return text
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return { raw: l };
        }
      });
  }

  /** Waits for a log line matching `pred` (after the first `skip` lines). */
  async waitForLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs = 60_000, what = "a log line"): Promise<Record<string, unknown>> {
    let found: Record<string, unknown> | undefined;
    await waitFor(
      async () => {
        found = (await this.lines()).find(pred);
        return found !== undefined;
      },
      timeoutMs,
      what,
      async () => (await this.lines()).slice(-15).map((l) => JSON.stringify(l)).join("\n"),
    );
    return found as Record<string, unknown>;
  }
}

/** Polls `cond` every 100 ms until true; the error names what was awaited (and some context). */
export async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string, context?: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`harness: timed out waiting for ${what}${context ? `\n${await context()}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
