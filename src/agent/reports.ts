import type { AgentEvent, AgentStatus } from "./events.js";
import type { Report } from "./outbox.js";

export type ReportBody = Omit<Report, "schema" | "id" | "host">;

/**
 * What of the agent's events goes to the control server: deployments, refusals, recoveries,
 * drift (the running system changed outside the agent), and the agent's own state when it
 * changes (suspended or not, the manifest source failing or not). The state is sent only on a
 * change, so a failing source backing off for hours costs two reports, not one per attempt.
 */
export class ReportMapper {
  private state = JSON.stringify({ suspended: false, fetchError: null });

  map(e: AgentEvent, s: AgentStatus): ReportBody | undefined {
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
      case "self-update-failed":
        return { at: e.at, type: "refusal", source: "agent", code: e.code, message: e.message };
      case "drift":
        return { at: e.at, type: "drift", toplevel: e.running, expected: e.expected, generation: e.generation, version: e.version, commit: e.commit, by: e.by, message: e.message };
      case "suspended":
      case "resumed":
      case "fetch-failed":
      case "fetched":
        return this.agentState(e.at, s);
      default:
        return undefined;
    }
  }

  /** The agent's own state, when it differs from what was last sent. */
  private agentState(at: string, s: AgentStatus): ReportBody | undefined {
    const failing = Object.entries(s.sources).find(([, src]) => src.lastFetch?.status === "error");
    const fetchError = failing ? { source: failing[0], message: failing[1].lastFetch?.detail ?? "", retryInSeconds: failing[1].retryInSeconds } : null;
    const key = JSON.stringify({ suspended: s.suspended, fetchError: fetchError && { source: fetchError.source, message: fetchError.message } });
    if (key === this.state) return undefined;
    this.state = key;
    return { at, type: "agent", suspended: s.suspended, fetchError };
  }
}
