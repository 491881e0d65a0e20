import { spawn, type ChildProcess } from "node:child_process";
import { OSCD_BIN, type AgentProcess } from "../../test/harness/index.js";
import type { DemoServer } from "./server.js";
import { hostLine, shortPath, StepFailed } from "./story.js";

/**
 * Follows what the agents do (their JSON event logs, one line per event) and what the server's
 * rollout does, through `oscd rollout status ID --watch` (its lines, one per change of a wave or
 * a host), and prints one story line per event that matters. `until` polls a condition while
 * printing, so the story shows the hosts converging live.
 */
export class Watcher {
  private readonly seen = new Map<string, number>();
  /** Release names by toplevel, so a line says "v1.1.0" rather than a store path. */
  readonly names = new Map<string, string>();
  private watch: { child: ChildProcess; lines: string[]; printed: number; state: string; err: string } | undefined;

  constructor(
    private readonly agents: ReadonlyMap<string, AgentProcess>,
    private readonly server: DemoServer,
  ) {}

  /** Skips what the agents logged so far (a new step starts with a clean slate). */
  async mark(): Promise<void> {
    for (const [name, a] of this.agents) this.seen.set(name, (await a.lines()).length);
  }

  /** `oscd rollout status ID --watch`, its lines printed as the server's. */
  follow(rolloutId: string): void {
    this.stop();
    const child = spawn(process.execPath, [OSCD_BIN, "rollout", "status", rolloutId, "--watch", ...this.server.cliArgs], { stdio: ["ignore", "pipe", "pipe"] });
    const w = { child, lines: [] as string[], printed: 0, state: "running", err: "" };
    let buf = "";
    child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split("\n");
      buf = parts.pop() ?? "";
      for (const l of parts) {
        w.lines.push(l);
        const m = /^rollout [0-9a-f]{8} (\w+)/.exec(l);
        if (m) w.state = m[1] as string;
      }
    });
    child.stderr?.on("data", (d: Buffer) => (w.err += d.toString()));
    this.watch = w;
  }

  /** The followed rollout's state, as its watch last printed it. */
  get rolloutState(): string | undefined {
    return this.watch?.state;
  }

  stop(): void {
    if (this.watch && this.watch.child.exitCode === null) this.watch.child.kill("SIGTERM");
  }

  async pump(): Promise<void> {
    for (const [name, a] of this.agents) {
      const lines = await a.lines();
      const from = this.seen.get(name) ?? 0;
      for (const l of lines.slice(from)) {
        const text = this.describe(l);
        if (text) hostLine(name, text);
      }
      this.seen.set(name, lines.length);
    }
    const w = this.watch;
    if (w) {
      // Host lines are the agents' own story; the server says what its waves and rollout do.
      for (const l of w.lines.slice(w.printed)) if (!l.startsWith("  ") && !/^rollout \S+ running$/.test(l)) hostLine("server", this.paths(l));
      w.printed = w.lines.length;
    }
  }

  private name(toplevel: unknown): string {
    return typeof toplevel === "string" ? (this.names.get(toplevel) ?? shortPath(toplevel)) : "?";
  }

  /** Store paths in a message, named by release where known. */
  private paths(text: string): string {
    return text.replace(/\/nix\/store\/[0-9a-z]{32}-[^\s:,]+/g, (p) => this.names.get(p) ?? shortPath(p));
  }

  private describe(l: Record<string, unknown>): string | undefined {
    switch (l.event) {
      case "desired":
        return `wants ${this.name(l.toplevel)}`;
      case "deployed":
        if (l.outcome === "committed") return `switched to ${this.name(l.toplevel)}, healthy (generation ${String(l.generation)})`;
        return undefined;
      case "deploy-failed":
        return `${this.name(l.toplevel)} failed [${String(l.code)}]: ${this.paths(String(l.message).split("\n")[0] ?? "")}`;
      case "recovered":
        return `recovered an interrupted deployment: ${String(l.outcome)}`;
      case "refused":
        return `refused the manifest [${String(l.code)}]`;
      case "suspended":
        return "agent suspended: deploys nothing until resumed";
      case "resumed":
        return "agent resumed";
      default:
        return undefined;
    }
  }

  /** Prints events until `cond` holds; a timeout fails the step, naming what was awaited. */
  async until(cond: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.pump();
      if (await cond()) {
        await this.pump();
        return;
      }
      if (Date.now() > deadline) {
        const logs = await Promise.all([...this.agents].map(async ([n, a]) => (await a.lines()).slice(-8).map((l) => `${n}: ${JSON.stringify(l)}`).join("\n")));
        throw new StepFailed(`timed out waiting for ${what}`, [...logs, this.watch ? `oscd rollout status --watch:\n${this.watch.lines.slice(-10).join("\n")}${this.watch.err}` : "", (await this.server.log()).split("\n").slice(-15).join("\n")].join("\n"));
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
