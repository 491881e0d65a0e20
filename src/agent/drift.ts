import { watch, type FSWatcher } from "node:fs";
import { realpath } from "node:fs/promises";
import { join } from "node:path";
import { generations, hostStatus } from "../activate/index.js";
import type { AgentContext } from "./context.js";
import type { AgentEvent } from "./events.js";

/** A look at the running system even when no file event came (an event lost, a watch that failed). */
const RECHECK_MS = 30_000;

/**
 * Notices the running system changing outside the agent: `oscd rollback`, `oscd activate`,
 * `oscd upgrade`, `nixos-rebuild` or `switch-to-configuration` run by hand. The agent knows what
 * it left running (what it committed, or what ran when it started); `/run/current-system`
 * pointing elsewhere while the agent is not deploying is drift. It is said once per change (a
 * `drift` event: status, log, and a report to the server, whose fleet view shows it), with what
 * the engine recorded of the change when it made it. The agent does not undo it: the next
 * release moves the machine as usual.
 */
export class DriftWatcher {
  private expected: string | undefined;
  private deploying = false;
  private checking = false;
  private again = false;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly link: string;

  constructor(private readonly agent: AgentContext) {
    this.link = join(agent.layout.runDir, "current-system");
  }

  async start(): Promise<void> {
    this.expected = await this.running();
    try {
      // switch-to-configuration replaces the link (a rename into /run): watch its directory.
      this.watcher = watch(this.agent.layout.runDir, { persistent: false }, (_e, name) => {
        if (!name || name === "current-system") void this.check();
      });
      this.watcher.on("error", () => this.watcher?.close());
    } catch {
      // No /run to watch (yet): the periodic look still sees a change.
    }
    this.timer = setInterval(() => void this.check(), RECHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
  }

  private soon: NodeJS.Timeout | undefined;
  /** A look in a second (a deployment by someone else is still under way). */
  private later(): void {
    if (this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      void this.check();
    }, 1000);
    this.soon.unref();
  }

  /** The agent's own deployments move what it expects; during one, changes are its own. */
  onEvent(e: AgentEvent): void {
    if (e.type === "deploying") this.deploying = true;
    else if (e.type === "deployed" || e.type === "deploy-failed" || e.type === "recovered" || (this.deploying && (e.type === "waiting" || e.type === "refused"))) {
      // What runs after its own deployment (committed, unchanged, rolled back) is what it expects.
      void this.running().then((r) => {
        this.expected = r;
        this.deploying = false;
      });
    }
  }

  private async running(): Promise<string | undefined> {
    return realpath(this.link).catch(() => undefined);
  }

  async check(): Promise<void> {
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = true;
    try {
      do {
        this.again = false;
        if (this.deploying) continue;
        const now = await this.running();
        if (now === undefined || now === this.expected) continue;
        // Someone else's deployment in progress may still roll back: look again once it ended.
        const h = await hostStatus(this.agent.layout).catch(() => undefined);
        if (h?.openDeployment) {
          this.later();
          continue;
        }
        const was = this.expected;
        this.expected = now;
        // Which deployment changed it, as the engine recorded it (oscd rollback, activate, upgrade).
        const last = h?.lastDeployment && h.lastDeployment.toplevel === now ? h.lastDeployment : undefined;
        const gens = await generations(this.agent.layout).catch(() => []);
        const gen = gens.find((g) => g.toplevel === now);
        const before = was ? gens.find((g) => g.toplevel === was) : undefined;
        const by = last ? `engine deployment ${last.id} (${last.mode}, ${last.state})` : "something other than oscd (no engine deployment of it)";
        const name = (p: string, g: typeof gen) => `${short(p)}${g ? ` (generation ${g.generation}${g.version ? `, version ${g.version}` : ""})` : ""}`;
        this.agent.emit({
          type: "drift",
          at: this.agent.now(),
          running: now,
          expected: was,
          generation: gen?.generation,
          version: gen?.version,
          commit: gen?.commit,
          by,
          message: `the running system changed outside the agent: ${name(now, gen)} instead of ${was ? name(was, before) : "nothing"}, by ${by}`,
        });
      } while (this.again);
    } finally {
      this.checking = false;
    }
  }
}

/** A store path's name without its hash, for messages. */
function short(p: string): string {
  return p.replace(/^\/nix\/store\/[0-9a-z]{32}-/, "");
}
