import type { AgentProcess } from "../../test/harness/index.js";
import type { DemoServer, Rollout } from "./server.js";
import { hostLine, shortPath, StepFailed } from "./story.js";

/**
 * Follows what the agents do (their JSON event logs, one line per event) and what the server's
 * rollout does (its waves), and prints one story line per event that matters. `until` polls
 * a condition while printing, so the story shows the hosts converging live.
 */
export class Watcher {
  private readonly seen = new Map<string, number>();
  private readonly waveStates = new Map<string, string>();
  /** Release names by toplevel, so a line says "v1.1.0" rather than a store path. */
  readonly names = new Map<string, string>();
  private rollout: string | undefined;

  constructor(
    private readonly agents: ReadonlyMap<string, AgentProcess>,
    private readonly server: DemoServer,
  ) {}

  /** Skips what the agents logged so far (a new step starts with a clean slate). */
  async mark(): Promise<void> {
    for (const [name, a] of this.agents) this.seen.set(name, (await a.lines()).length);
  }

  follow(rolloutId: string | undefined): void {
    this.rollout = rolloutId;
    this.waveStates.clear();
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
    if (this.rollout) await this.pumpRollout(this.rollout);
  }

  private async pumpRollout(id: string): Promise<void> {
    const r = await this.server.api<Rollout>("GET", `/api/v1/rollouts/${id}`);
    for (const w of r.waves) {
      const key = `${w.name}:${w.state}`;
      if (this.waveStates.get(w.name) === key) continue;
      this.waveStates.set(w.name, key);
      if (w.state !== "pending") hostLine("server", `rollout wave "${w.name}" (${w.hosts.join(", ")}): ${w.state}`);
    }
    const key = `rollout:${r.state}`;
    if (this.waveStates.get("rollout") !== key) {
      this.waveStates.set("rollout", key);
      if (r.state !== "active" && r.state !== "running") hostLine("server", `rollout ${r.state}${r.reason ? `: ${r.reason}` : ""}`);
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
        throw new StepFailed(`timed out waiting for ${what}`, [...logs, (await this.server.log()).split("\n").slice(-15).join("\n")].join("\n"));
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
