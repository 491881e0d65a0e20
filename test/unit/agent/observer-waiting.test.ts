import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { AgentStatus } from "../../../src/agent/index.js";
import { Observer } from "../../../src/agent/events.js";
import { agentLogger } from "../../../src/agent/log.js";
import { AgentMetrics } from "../../../src/agent/metrics.js";

const at = "2026-12-07T00:00:00.000Z";
const quiet = new Writable({ write: (_c, _e, cb) => cb() });
const observer = () => new Observer({ host: "h", pid: 1, version: "0.0.0", startedAt: at, suspended: false, sources: {}, reboot: { needed: false, reasons: [] } } as AgentStatus, new AgentMetrics("0.0.0"), agentLogger("error", quiet));

describe("what the agent says it waits for", () => {
  it("a switch window's wait outlives the long-poll renewals that follow it; a new offer ends it", () => {
    const o = observer();
    o.emit({ type: "waiting", at, source: "manifest:main", reason: "outside the switch window; it opens at 02:00" });
    o.emit({ type: "fetched", at, source: "manifest:main", status: "not-modified" });
    expect(o.status.waiting?.reason).toBe("outside the switch window; it opens at 02:00");
    o.emit({ type: "fetched", at, source: "manifest:main", status: "new" });
    expect(o.status.waiting).toBeUndefined();
  });

  it("waiting for a first release lasts until the server has one for this host", () => {
    const o = observer();
    o.emit({ type: "fetched", at, source: "manifest:main", status: "none", detail: "waiting for a release of main" });
    o.emit({ type: "fetched", at, source: "manifest:main", status: "none", detail: "waiting for a release of main" });
    expect(o.status.waiting).toEqual({ source: "manifest:main", reason: "waiting for a release of main" });
    o.emit({ type: "fetched", at, source: "manifest:main", status: "new" });
    expect(o.status.waiting).toBeUndefined();
  });
});
