import type { Logger } from "./log.js";
import type { AgentMetrics } from "./metrics.js";
import type { PackageDiff } from "../inspect/index.js";

/** What `oscd status` shows of a running agent (besides the engine's own host status). */
export interface AgentStatus {
  host: string;
  pid: number;
  /** This agent's own oscd version. */
  version: string;
  startedAt: string;
  suspended: boolean;
  /** The system the agent wants, which source won, and why. */
  desired?: { source: string; toplevel: string; mode: string; version?: string; commit?: string; sequence?: number; reason: string; over?: { source: string; toplevel: string } };
  sources: Record<string, SourceStatus>;
  deploying?: { source: string; toplevel: string; mode: string; step: string };
  waiting?: { source: string; reason: string; until?: string };
  lastDeployment?: { source: string; toplevel: string; mode: string; outcome: string; error?: string; code?: string; cause?: string; at: string; generation?: number; commit?: string; version?: string };
  /** The newest data is refused: the machine stays where it is, and says why. */
  heldBack?: { source: string; code: string; reason: string; since: string };
  /** The running system was changed outside the agent (drift.ts), until the agent deploys again. */
  drift?: { since: string; running: string; expected?: string; by: string; message: string };
  reboot: { needed: boolean; reasons: string[]; at?: string };
  /** The last move of the agent to a new version of itself, from its marker file. */
  selfUpdate?: { state: string; at: string; from?: string; reason?: string };
  /** The trust root version in force (0: the implicit root of trustedPublicKeys) and the channel's revocation list version. */
  trust?: { version: number; revocations?: number; at: string };
}

export interface SourceStatus {
  kind: "manifest" | "git";
  /** `none`: the server has no release for this host yet (it waits, long-polling). */
  lastFetch?: { at: string; status: "new" | "not-modified" | "none" | "refused" | "error"; detail?: string };
  lastSuccessAt?: string;
  longPoll?: boolean;
  /** The refusal of the newest data from this source, if any. */
  refusal?: { code: string; message: string; at: string };
  retryInSeconds?: number;
}

export type AgentEvent =
  | { type: "started"; at: string }
  | { type: "recovered"; at: string; id: string; outcome: string }
  | { type: "fetched"; at: string; source: string; status: "new" | "not-modified" | "none"; url?: string; longPoll?: boolean; detail?: string }
  | { type: "fetch-failed"; at: string; source: string; code: string; message: string; retryInSeconds: number }
  | { type: "refused"; at: string; source: string; code: string; message: string }
  | { type: "verified"; at: string; source: string; detail: string }
  | { type: "trust"; at: string; source: string; version: number; walked: number[]; revocations?: number; detail: string }
  | { type: "desired"; at: string; source: string; toplevel: string; mode: string; reason: string }
  | { type: "waiting"; at: string; source: string; reason: string; until?: string }
  | { type: "deploying"; at: string; source: string; toplevel: string; mode: string; step: string; detail?: string }
  | { type: "diff"; at: string; source: string; toplevel: string; from: string; packages: PackageDiff; closureSize: { from: number; to: number; difference: number }; reboot: { needed: boolean; reasons: string[] } }
  | { type: "deployed"; at: string; source: string; toplevel: string; mode: string; outcome: string; generation?: number; reboot: boolean; rebootReasons?: string[] }
  /** `cause`: for a rollback (`code` rolled-back), the code of what failed (`health-failed`, `switch-failed`, …). */
  | { type: "deploy-failed"; at: string; source: string; toplevel: string; mode: string; code: string; cause?: string; message: string; phase: "eval" | "build" | "deploy" }
  | { type: "superseded"; at: string; source: string; commit: string; by: string; phase: "eval" | "build" }
  | { type: "suspended" | "resumed"; at: string }
  | { type: "reboot-scheduled"; at: string; when: string; reasons: string[] }
  | { type: "report-delivered"; at: string; id: string }
  | { type: "retention"; at: string; removed: number[]; kept: number; freedBytes?: number; error?: string }
  | { type: "self-update"; at: string; from: string; how: "systemd" | "handover"; command: string }
  | { type: "self-updated"; at: string; from: string; to: string; how: string }
  | { type: "self-update-failed"; at: string; code: string; message: string }
  | { type: "drift"; at: string; running: string; expected?: string; generation?: number; version?: string; commit?: string; by: string; message: string };

type Listener = (e: AgentEvent) => void;

/**
 * One place every event goes through: it updates the status, the metrics and the log, and
 * feeds `oscd agent events` subscribers. So a refusal is visible everywhere or nowhere.
 */
export class Observer {
  private readonly listeners = new Set<Listener>();

  constructor(
    readonly status: AgentStatus,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
  ) {}

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  source(name: string, kind: SourceStatus["kind"]): SourceStatus {
    return (this.status.sources[name] ??= { kind });
  }

  emit(e: AgentEvent): void {
    this.apply(e);
    const { type, ...rest } = e;
    if (e.type === "refused" || e.type === "deploy-failed" || e.type === "fetch-failed" || e.type === "self-update-failed" || e.type === "drift") this.log.warn({ event: type, ...rest }, `${type}: ${e.message}`);
    else if (e.type === "deploying") this.log.debug({ event: type, ...rest }, type);
    else if (e.type === "fetched" && e.detail) this.log.info({ event: type, ...rest }, e.detail);
    else this.log.info({ event: type, ...rest }, type);
    for (const l of this.listeners) l(e);
  }

  private apply(e: AgentEvent): void {
    const s = this.status;
    const m = this.metrics;
    const t = new Date(e.at).getTime() / 1000;
    switch (e.type) {
      case "fetched": {
        const src = this.source(e.source, e.source.startsWith("git:") ? "git" : "manifest");
        src.lastFetch = { at: e.at, status: e.status, detail: e.detail };
        src.lastSuccessAt = e.at;
        src.longPoll = e.longPoll;
        src.retryInSeconds = undefined;
        // Nothing to run yet is what the agent waits for, unless it has something from elsewhere.
        if (e.status === "none" && e.detail && !s.desired && !s.deploying) s.waiting = { source: e.source, reason: e.detail };
        // Only a new offer ends that wait: a long-poll renewed (not-modified) must not clear a
        // wait the deploy loop set (a switch window), which it sets only once per offer.
        else if (e.status === "new" && s.waiting?.source === e.source) s.waiting = undefined;
        m.fetchCount.inc({ remote_name: e.source, status: "succeeded" });
        m.lastFetchFailed.set(0);
        m.lastFetchTimestamp.set(t);
        break;
      }
      case "fetch-failed": {
        const src = this.source(e.source, e.source.startsWith("git:") ? "git" : "manifest");
        src.lastFetch = { at: e.at, status: "error", detail: e.message };
        src.retryInSeconds = e.retryInSeconds;
        m.fetchCount.inc({ remote_name: e.source, status: "failed" });
        m.lastFetchFailed.set(1);
        m.lastFetchTimestamp.set(t);
        break;
      }
      case "refused": {
        const src = this.source(e.source, e.source.startsWith("git:") ? "git" : "manifest");
        src.lastFetch = { at: src.lastFetch?.at ?? e.at, status: "refused", detail: e.message };
        src.refusal = { code: e.code, message: e.message, at: e.at };
        // `since` is when this kind of hold began; the reason is always the newest.
        const same = s.heldBack?.code === e.code && s.heldBack.source === e.source;
        s.heldBack = { source: e.source, code: e.code, reason: e.message, since: same ? (s.heldBack?.since ?? e.at) : e.at };
        m.heldBack.reset();
        m.heldBack.set({ reason: e.code }, 1);
        m.lastFetchFailed.set(1);
        break;
      }
      case "trust":
        s.trust = { version: e.version, revocations: e.revocations ?? s.trust?.revocations, at: e.at };
        break;
      case "verified": {
        const src = s.sources[e.source];
        if (src) src.refusal = undefined;
        if (s.heldBack?.source === e.source) {
          s.heldBack = undefined;
          m.heldBack.reset();
        }
        break;
      }
      case "desired": {
        s.desired = { source: e.source, toplevel: e.toplevel, mode: e.mode, reason: e.reason, ...(s.desired?.toplevel === e.toplevel && s.desired.source === e.source ? { version: s.desired.version, commit: s.desired.commit, sequence: s.desired.sequence, over: s.desired.over } : {}) };
        const src = s.sources[e.source];
        if (src) src.refusal = undefined;
        if (s.heldBack?.source === e.source) {
          s.heldBack = undefined;
          m.heldBack.reset();
        }
        break;
      }
      case "waiting":
        s.waiting = { source: e.source, reason: e.reason, until: e.until };
        break;
      case "deploying":
        s.waiting = undefined;
        s.deploying = { source: e.source, toplevel: e.toplevel, mode: e.mode, step: e.step };
        break;
      case "deployed":
        s.deploying = undefined;
        s.drift = undefined;
        s.lastDeployment = { source: e.source, toplevel: e.toplevel, mode: e.mode, outcome: e.outcome, at: e.at, generation: e.generation, commit: s.desired?.commit, version: s.desired?.version };
        m.deploymentInfo.reset();
        m.deploymentInfo.set({ commit_id: s.desired?.commit ?? "", status: "done" }, 1);
        m.lastDeploymentFailed.set(0);
        m.lastBuildFailed.set(0);
        m.lastEvalFailed.set(0);
        m.lastDeploymentTimestamp.set(t);
        // A reboot time comes with its own event (reboot-scheduled) after this one.
        s.reboot = e.reboot ? { needed: true, reasons: e.rebootReasons ?? s.reboot.reasons } : { needed: false, reasons: [] };
        m.needToReboot.set(e.reboot ? 1 : 0);
        break;
      case "deploy-failed":
        s.deploying = undefined;
        s.lastDeployment = { source: e.source, toplevel: e.toplevel, mode: e.mode, outcome: "failed", error: e.message, code: e.code, cause: e.cause, at: e.at, commit: s.desired?.commit, version: s.desired?.version };
        if (e.phase === "eval") m.lastEvalFailed.set(1);
        else if (e.phase === "build") m.lastBuildFailed.set(1);
        else {
          m.lastDeploymentFailed.set(1);
          m.deploymentInfo.reset();
          m.deploymentInfo.set({ commit_id: s.desired?.commit ?? "", status: "failed" }, 1);
          m.lastDeploymentTimestamp.set(t);
        }
        break;
      case "suspended":
      case "resumed":
        s.suspended = e.type === "suspended";
        m.isSuspended.set(s.suspended ? 1 : 0);
        break;
      case "self-update":
        s.selfUpdate = { state: "handing-over", at: e.at, from: e.from };
        break;
      case "self-updated":
        s.selfUpdate = { state: "done", at: e.at, from: e.from };
        break;
      case "self-update-failed":
        s.selfUpdate = { state: "failed", at: e.at, reason: e.message };
        break;
      case "reboot-scheduled":
        s.reboot = { needed: true, reasons: e.reasons, at: e.when };
        m.needToReboot.set(1);
        break;
      case "drift":
        s.drift = { since: e.at, running: e.running, expected: e.expected, by: e.by, message: e.message };
        break;
      default:
        break;
    }
  }
}
