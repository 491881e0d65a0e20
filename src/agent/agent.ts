import type { Server } from "node:http";
import type { Server as NetServer } from "node:net";
import { hostname } from "node:os";
import { DEFAULT_LAYOUT, hostStatus, withHostLock, type HostLayout } from "../activate/index.js";
import { readFile } from "node:fs/promises";
import { GuardError, isOscdError } from "../core/errors.js";
import { parsePublicKey, type PublicKey } from "../nix/index.js";
import { systemClock, type Clock } from "./clock.js";
import type { AgentConfig } from "./config.js";
import { serveControlSocket } from "./control-socket.js";
import { deployCandidate } from "./deploy.js";
import { manifestEndpoints, reportTarget, type ReportTarget } from "./endpoints.js";
import { Observer, type AgentEvent, type AgentStatus } from "./events.js";
import type { AgentContext } from "./context.js";
import type { Candidate } from "./guards.js";
import type { Logger } from "./log.js";
import type { GitWatcher } from "./git-source.js";
import { ManifestWatcher } from "./manifest-watcher.js";
import { signatureTrust } from "./signature-trust.js";
import { AgentMetrics } from "./metrics.js";
import { Outbox, type Report } from "./outbox.js";
import { planDeployment } from "./schedule.js";
import { readAgentState, type AgentState } from "./state.js";
import { MachineTrust } from "../trust/index.js";
import { Wake } from "./wake.js";

export interface AgentOptions {
  config: AgentConfig;
  version: string;
  log: Logger;
  clock?: Clock;
  random?: () => number;
}

/** Longest sleep while waiting for a window, so a clock change is noticed. */
const WINDOW_RECHECK_MS = 60_000;

/**
 * The pull agent. Sources (a manifest channel, git remotes) each run their own loop and offer
 * a guarded candidate; the newest offer wins. One deployer moves the machine to it through the
 * activation engine, in-process, when the schedule allows. Everything that happens goes through
 * the Observer: status, metrics, log and event stream see the same thing.
 */
export class Agent implements AgentContext {
  readonly host: string;
  readonly layout: HostLayout;
  readonly observer: Observer;
  readonly metrics: AgentMetrics;
  readonly trusted: PublicKey[];
  readonly clock: Clock;
  readonly random: () => number;
  state!: AgentState;
  /** The trust root in force and the revocation lists (loaded at start, walked by the manifest source). */
  trust!: MachineTrust;
  private pending: Candidate | undefined;
  private deploying = false;
  private stopped = false;
  private readonly deployWake = new Wake();
  private manifest: ManifestWatcher | undefined;
  private git: GitWatcher[] = [];
  private servers: (Server | NetServer)[] = [];
  private outbox: Outbox | undefined;

  constructor(readonly opts: AgentOptions) {
    const c = opts.config;
    this.host = c.hostname ?? hostname();
    this.layout = { ...DEFAULT_LAYOUT, stateDir: c.stateDir };
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.trusted = c.trustedPublicKeys.map(parsePublicKey);
    this.metrics = new AgentMetrics(opts.version);
    const status: AgentStatus = { host: this.host, pid: process.pid, startedAt: this.now(), suspended: false, sources: {}, reboot: { needed: false, reasons: [] } };
    this.observer = new Observer(status, this.metrics, opts.log);
  }

  get config(): AgentConfig {
    return this.opts.config;
  }

  get log(): Logger {
    return this.opts.log;
  }

  get status(): AgentStatus {
    return this.observer.status;
  }

  now(): string {
    return this.clock().toISOString();
  }

  emit(e: AgentEvent): void {
    this.observer.emit(e);
  }

  /** Recover an interrupted deployment, load state, open the socket and exporter, start sources. */
  async start(): Promise<void> {
    const c = this.opts.config;
    await checkMachineId(c.machineId);
    this.state = (await readAgentState(c.stateDir)).state;
    this.trust = await MachineTrust.load({ stateDir: c.stateDir, trustedPublicKeys: c.trustedPublicKeys, bootstrap: c.trustRoot });
    this.observer.status.trust = { version: this.trust.version, revocations: c.manifest ? this.trust.revocationsOf(c.manifest.channel)?.version : undefined, at: this.now() };
    await this.recover();
    this.servers.push(
      await serveControlSocket(c.controlSocket, {
        status: () => this.statusView(),
        fetch: async () => this.fetchNow(),
        suspend: async () => this.setSuspended(true),
        resume: async () => this.setSuspended(false),
        events: (send) => this.observer.subscribe(send),
      }),
    );
    if (c.exporter.enable) this.servers.push(await this.metrics.serve(c.exporter.listenAddress, c.exporter.port));
    const reports = reportTarget(c);
    if (reports) this.startReports(reports);
    this.emit({ type: "started", at: this.now() });
    if (c.manifest) {
      this.manifest = new ManifestWatcher(this, c.manifest, manifestEndpoints(c));
      void this.manifest.run();
    }
    // Loaded only when remotes are configured: the builder and source stages cost memory an
    // agent that only follows manifests does not need.
    if (c.remotes.length > 0) {
      const { GitWatcher } = await import("./git-source.js");
      const trust = await signatureTrust(c);
      for (const r of c.remotes) {
        const w = new GitWatcher(this, r, trust);
        this.git.push(w);
        void w.run();
      }
    }
    void this.deployLoop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.manifest?.stop();
    for (const g of this.git) g.stop();
    this.outbox?.stop();
    this.deployWake.fire();
    for (const s of this.servers) await new Promise<void>((r) => s.close(() => r()));
  }

  /**
   * A source offers a system; the newest offer wins, whichever source made it (each source has
   * guarded its own offer: signature and sequence, or ancestry and commit signatures). Status
   * says which source won, over which, and why.
   */
  offer(c: Candidate, reason: string): void {
    this.pending = c;
    const prev = this.observer.status.desired;
    const over = prev && prev.source !== c.source ? { source: prev.source, toplevel: prev.toplevel } : undefined;
    const why = over ? `${reason}; the newest offer wins, over ${over.source}` : reason;
    this.observer.status.desired = { source: c.source, toplevel: c.toplevel, mode: c.mode, version: c.release.version, commit: c.release.commit, sequence: c.release.sequence, reason: why, over };
    this.emit({ type: "desired", at: this.now(), source: c.source, toplevel: c.toplevel, mode: c.mode, reason: why });
    this.deployWake.fire();
  }

  private async deployLoop(): Promise<void> {
    while (!this.stopped) {
      let sleep = WINDOW_RECHECK_MS;
      const c = this.pending;
      if (c && this.observer.status.suspended) {
        if (this.observer.status.waiting?.reason !== "suspended") this.emit({ type: "waiting", at: this.now(), source: c.source, reason: "suspended" });
      } else if (c) {
        const plan = planDeployment(c.mode, this.opts.config, this.clock());
        if (plan.action === "wait") {
          if (this.observer.status.waiting?.reason !== plan.reason) this.emit({ type: "waiting", at: this.now(), source: c.source, reason: plan.reason, until: plan.until?.toISOString() });
          if (plan.until) sleep = Math.min(WINDOW_RECHECK_MS, Math.max(1000, plan.until.getTime() - this.clock().getTime()));
        } else {
          this.pending = undefined;
          this.deploying = true;
          try {
            const retry = await deployCandidate(this, c, plan.mode);
            if (retry && !this.pending) {
              this.pending = c;
              sleep = 5000;
            } else continue;
          } finally {
            this.deploying = false;
          }
        }
      }
      await this.deployWake.wait(sleep);
    }
  }

  get busy(): boolean {
    return this.deploying;
  }

  /** Deployments, refusals and recoveries become reports in the durable outbox. */
  private startReports(r: ReportTarget): void {
    const outbox = (this.outbox = new Outbox({
      dir: `${this.opts.config.stateDir}/agent/outbox`,
      url: r.url,
      tokenFile: r.tokenFile,
      retryIntervalSec: r.retryInterval,
      log: this.opts.log,
      onDelivered: (id) => this.emit({ type: "report-delivered", at: this.now(), id }),
    }));
    this.observer.subscribe((e) => {
      const report = reportOf(e, this.observer.status);
      if (report) outbox.add({ host: this.host, ...report }).catch((err: unknown) => this.opts.log.error({ event: "outbox-failed" }, `cannot store a report: ${err instanceof Error ? err.message : String(err)}`));
    });
    void outbox.run();
  }

  private async recover(): Promise<void> {
    try {
      // A switch the killed agent started may still run: the engine waits for it (switchTimeout at most).
      const r = await withHostLock(this.layout, "agent start", async (rec) => rec, (line) => this.opts.log.info({ event: "recover-waiting" }, line), { switchWaitMs: this.opts.config.switchTimeout * 1000 });
      if (r) this.emit({ type: "recovered", at: this.now(), id: r.id, outcome: r.outcome });
    } catch (e) {
      // Busy: someone else deploys now; the deployer retries later.
      this.opts.log.warn({ event: "recover-skipped", code: isOscdError(e) ? e.code : "internal" }, `recovery skipped: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  fetchNow(): { fetching: string[] } {
    this.manifest?.fetchNow();
    for (const g of this.git) g.fetchNow();
    this.deployWake.fire();
    return { fetching: [...(this.manifest ? [this.manifest.name] : []), ...this.git.map((g) => g.name)] };
  }

  setSuspended(on: boolean): { suspended: boolean } {
    if (this.observer.status.suspended !== on) this.emit({ type: on ? "suspended" : "resumed", at: this.now() });
    if (!on) {
      if (this.observer.status.waiting?.reason === "suspended") this.observer.status.waiting = undefined;
      this.deployWake.fire();
    }
    return { suspended: on };
  }

  async statusView(): Promise<{ agent: AgentStatus; host: Awaited<ReturnType<typeof hostStatus>> }> {
    return { agent: this.observer.status, host: await hostStatus(this.layout) };
  }
}

function reportOf(e: AgentEvent, s: AgentStatus): Omit<Report, "schema" | "id" | "host"> | undefined {
  const d = s.desired;
  switch (e.type) {
    case "deployed":
      return { at: e.at, type: "deployment", source: e.source, toplevel: e.toplevel, mode: e.mode, outcome: e.outcome, generation: e.generation, version: d?.version, commit: d?.commit, sequence: d?.sequence, rebootNeeded: e.reboot };
    case "deploy-failed":
      return { at: e.at, type: "deployment", source: e.source, toplevel: e.toplevel, mode: e.mode, outcome: "failed", code: e.code, cause: e.cause, message: e.message, version: d?.version, commit: d?.commit, sequence: d?.sequence };
    case "refused":
      return { at: e.at, type: "refusal", source: e.source, code: e.code, message: e.message };
    case "recovered":
      return { at: e.at, type: "recovery", outcome: e.outcome, message: `deployment ${e.id}` };
    default:
      return undefined;
  }
}

/** comin's `machineId`: the agent runs only on the machine it was configured for. */
export async function checkMachineId(want: string | undefined, file = "/etc/machine-id"): Promise<void> {
  if (!want) return;
  const have = (await readFile(file, "utf8").catch(() => "")).trim();
  if (have !== want) throw new GuardError("wrong-machine", `this machine's id is ${have || "(unreadable)"}, the agent is configured for ${want}`, "the configuration was written for another machine; fix machineId");
}
