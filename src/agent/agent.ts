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
import { DriftWatcher } from "./drift.js";
import { Outbox } from "./outbox.js";
import { ReportMapper } from "./reports.js";
import { planDeployment } from "./schedule.js";
import { readAgentState, type AgentState } from "./state.js";
import { readMarker, runsInUnit, serviceCommand, socketOf, startDetached, startWatcher, unitHash, unitOf, waitUntil, watcherCommand, writeMarker } from "./self-update.js";
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
  private unsubscribeReports: (() => void) | undefined;
  /** The agent's unit as the system it started on installs it (self-update compares with it). */
  private unitAtStart: string | undefined;
  /** Set by a committed switch whose system carries another agent unit: moved to after the deployment. */
  pendingSelfUpdate: { toplevel: string; unit: string } | undefined;
  /** Resolves when this process should end (it handed over to a new agent). */
  readonly handedOver: Promise<void>;
  private endProcess!: () => void;
  private drift: DriftWatcher | undefined;
  private unsubscribeDrift: (() => void) | undefined;

  constructor(readonly opts: AgentOptions) {
    const c = opts.config;
    this.host = c.hostname ?? hostname();
    this.layout = { ...DEFAULT_LAYOUT, stateDir: c.stateDir };
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.trusted = c.trustedPublicKeys.map(parsePublicKey);
    this.metrics = new AgentMetrics(opts.version);
    const status: AgentStatus = { host: this.host, pid: process.pid, version: opts.version, startedAt: this.now(), suspended: false, sources: {}, reboot: { needed: false, reasons: [] } };
    this.observer = new Observer(status, this.metrics, opts.log);
    this.handedOver = new Promise((resolve) => (this.endProcess = resolve));
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
    if (c.selfUpdate.enable) this.unitAtStart = await unitOf(`${this.layout.runDir}/current-system`, c.selfUpdate.unit);
    await this.open();
    await this.noteSelfUpdate();
  }

  /** Socket, exporter, reports, sources and the deployer: everything a handover closes and a failed one reopens. */
  private async open(): Promise<void> {
    const c = this.opts.config;
    this.stopped = false;
    this.servers = [];
    this.git = [];
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
    const drift = (this.drift = new DriftWatcher(this));
    this.unsubscribeDrift = this.observer.subscribe((e) => drift.onEvent(e));
    await drift.start();
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
    this.unsubscribeReports?.();
    this.unsubscribeDrift?.();
    this.drift?.stop();
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
            if (this.pendingSelfUpdate) {
              const next = this.pendingSelfUpdate;
              this.pendingSelfUpdate = undefined;
              // This loop ends here: the handover closes everything, and a failed one reopens it with a loop of its own.
              void this.selfUpdate(next.unit);
              return;
            }
            if (retry && !this.pending) {
              this.pending = c;
              sleep = typeof retry === "object" ? retry.retryInMs : 5000;
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
      fallbackUrls: r.fallbackUrls,
      tokenFile: r.tokenFile,
      retryIntervalSec: r.retryInterval,
      log: this.opts.log,
      onDelivered: (id) => this.emit({ type: "report-delivered", at: this.now(), id }),
    }));
    const mapper = new ReportMapper();
    this.unsubscribeReports = this.observer.subscribe((e) => {
      const report = mapper.map(e, this.observer.status);
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

  /**
   * After a committed switch: does the new system install another version of this agent's unit?
   * Called by the deployer once the deployment's state is written; the move happens after it.
   */
  async checkSelfUpdate(toplevel: string): Promise<void> {
    const su = this.opts.config.selfUpdate;
    if (!su.enable) return;
    const next = await unitOf(toplevel, su.unit);
    if (this.unitAtStart === undefined) {
      if (next !== undefined) this.opts.log.info({ event: "self-update-skipped" }, `the agent was not started from ${su.unit} of the running system; it is not restarted into the new one (it is at the next boot)`);
      return;
    }
    if (next === undefined || next === this.unitAtStart) return;
    const marker = await readMarker(this.opts.config.stateDir);
    if (marker && (marker.state === "failed" || marker.state === "failed-reported") && marker.unitHash === unitHash(next)) {
      this.opts.log.warn({ event: "self-update-skipped" }, `the new ${su.unit} failed to start before; the agent stays at ${this.opts.version}`);
      return;
    }
    if (!serviceCommand(next)) {
      this.emit({ type: "self-update-failed", at: this.now(), code: "agent-update-failed", message: `${su.unit} of ${toplevel} has no ExecStart; the agent stays at ${this.opts.version}` });
      return;
    }
    const { systemdRuns } = await import("../activate/index.js");
    if ((await systemdRuns()) && !(await runsInUnit(su.unit))) {
      // Started by hand beside systemd: restarting the unit would start a second agent.
      this.opts.log.info({ event: "self-update-skipped" }, `this agent does not run in ${su.unit}; the unit's new version starts with it`);
      return;
    }
    this.pendingSelfUpdate = { toplevel, unit: next };
  }

  /** Moves to the new unit's agent (see self-update.ts); on failure the old one carries on and says why. */
  private async selfUpdate(unit: string): Promise<void> {
    const c = this.opts.config;
    const log = this.opts.log;
    const hash = unitHash(unit);
    const fail = async (message: string) => {
      await writeMarker(c.stateDir, { state: "failed", unitHash: hash, fromVersion: this.opts.version, fromPid: process.pid, at: this.now(), how: "handover", reason: message });
      await this.open();
      await this.noteSelfUpdate();
    };
    // checkSelfUpdate made sure there is a command, and that a systemd unit is this agent's own.
    const cmd = serviceCommand(unit) as NonNullable<ReturnType<typeof serviceCommand>>;
    const socket = await socketOf(cmd, c.controlSocket);
    const { systemdRuns } = await import("../activate/index.js");
    if (await systemdRuns()) {
      this.emit({ type: "self-update", at: this.now(), from: this.opts.version, how: "systemd", command: cmd.argv.join(" ") });
      await this.stop();
      await writeMarker(c.stateDir, { state: "handing-over", unitHash: hash, fromVersion: this.opts.version, fromPid: process.pid, at: this.now(), how: "systemd" });
      try {
        await startWatcher(watcherCommand({ unit: c.selfUpdate.unit, socket, stateDir: c.stateDir, timeoutSec: c.selfUpdate.timeout, previousPid: process.pid }));
      } catch (e) {
        return fail(`the restart could not be started: ${e instanceof Error ? e.message : String(e)}`);
      }
      // `systemctl restart` ends this process. Should the watcher never get to it, carry on.
      setTimeout(() => void fail("the restart did not happen (the watcher unit ended without it)"), (c.selfUpdate.timeout + 60) * 1000).unref();
      return;
    }
    this.emit({ type: "self-update", at: this.now(), from: this.opts.version, how: "handover", command: cmd.argv.join(" ") });
    await this.stop();
    await writeMarker(c.stateDir, { state: "handing-over", unitHash: hash, fromVersion: this.opts.version, fromPid: process.pid, at: this.now(), how: "handover" });
    let child: ReturnType<typeof startDetached>;
    try {
      child = startDetached(cmd);
    } catch (e) {
      return fail(`the new agent could not be started: ${e instanceof Error ? e.message : String(e)}`);
    }
    const { controlRequest } = await import("./control-socket.js");
    const outcome = await waitUntil(
      async () => {
        try {
          // This agent's socket is closed: any agent answering is the new one (its command may be a wrapper that forked).
          const s = (await controlRequest(socket, "status", 2000)) as { agent?: { pid?: number } };
          return s.agent?.pid !== undefined && s.agent.pid !== process.pid;
        } catch {
          return false;
        }
      },
      child.exited,
      c.selfUpdate.timeout * 1000,
    );
    if (outcome === "ready") {
      log.info({ event: "handed-over", pid: child.pid }, `the new agent (pid ${child.pid}) runs; this one ends`);
      this.endProcess();
      return;
    }
    child.kill();
    await fail(outcome === "gone" ? `the new agent (${cmd.argv.join(" ").slice(0, 200)}) exited before it answered` : `the new agent did not answer on ${socket} within ${c.selfUpdate.timeout} s`);
  }

  /** What the marker file says of the last self-update: reported once by the agent that runs after it. */
  private async noteSelfUpdate(): Promise<void> {
    const dir = this.opts.config.stateDir;
    const m = await readMarker(dir);
    if (!m) return;
    if (m.state === "handing-over" && m.fromPid !== process.pid) {
      this.emit({ type: "self-updated", at: this.now(), from: m.fromVersion, to: this.opts.version, how: m.how });
      await writeMarker(dir, { ...m, state: "done", toPid: process.pid, at: this.now() });
    } else if (m.state === "failed") {
      this.emit({ type: "self-update-failed", at: this.now(), code: "agent-update-failed", message: `the agent could not move to its new version, so ${this.opts.version} runs again: ${m.reason ?? "unknown reason"}` });
      await writeMarker(dir, { ...m, state: "failed-reported" });
    } else {
      this.observer.status.selfUpdate = { state: m.state, at: m.at, from: m.fromVersion, reason: m.reason };
    }
  }

  async statusView(): Promise<{ agent: AgentStatus; host: Awaited<ReturnType<typeof hostStatus>> }> {
    return { agent: this.observer.status, host: await hostStatus(this.layout) };
  }
}

/** comin's `machineId`: the agent runs only on the machine it was configured for. */
export async function checkMachineId(want: string | undefined, file = "/etc/machine-id"): Promise<void> {
  if (!want) return;
  const have = (await readFile(file, "utf8").catch(() => "")).trim();
  if (have !== want) throw new GuardError("wrong-machine", `this machine's id is ${have || "(unreadable)"}, the agent is configured for ${want}`, "the configuration was written for another machine; fix machineId");
}
