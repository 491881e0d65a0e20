import { describe, expect, it } from "vitest";
import type { AgentStatus } from "../../../src/agent/index.js";
import { ReportMapper } from "../../../src/agent/reports.js";

const status = (over: Partial<AgentStatus> = {}): AgentStatus => ({ host: "h", pid: 1, version: "0.0.0", startedAt: "t", suspended: false, sources: {}, reboot: { needed: false, reasons: [] }, ...over });
const at = "2026-11-21T00:00:00.000Z";

describe("what the agent reports of itself", () => {
  it("reports its own state only when it changes: a failing source backing off costs two reports, not one per attempt", () => {
    const m = new ReportMapper();
    const failing = status({ sources: { "manifest:main": { kind: "manifest", lastFetch: { at, status: "error", detail: "no manifest URL answered: connection refused" }, retryInSeconds: 15 } } });
    expect(m.map({ type: "fetched", at, source: "manifest:main", status: "not-modified" }, status())).toBeUndefined();
    expect(m.map({ type: "fetch-failed", at, source: "manifest:main", code: "source-unreachable", message: "x", retryInSeconds: 15 }, failing)).toEqual({ at, type: "agent", suspended: false, fetchError: { source: "manifest:main", message: "no manifest URL answered: connection refused", retryInSeconds: 15 } });
    const later = structuredClone(failing);
    later.sources["manifest:main"]!.retryInSeconds = 31;
    expect(m.map({ type: "fetch-failed", at, source: "manifest:main", code: "source-unreachable", message: "x", retryInSeconds: 31 }, later)).toBeUndefined();
    expect(m.map({ type: "fetched", at, source: "manifest:main", status: "new" }, status())).toEqual({ at, type: "agent", suspended: false, fetchError: null });
    expect(m.map({ type: "suspended", at }, status({ suspended: true }))).toMatchObject({ type: "agent", suspended: true });
  });

  it("reports drift with what runs now, what it had left running, and what changed it", () => {
    const r = new ReportMapper().map({ type: "drift", at, running: "/nix/store/a-old", expected: "/nix/store/b-new", generation: 3, version: "1.0.0", by: "engine deployment 1 (switch, committed)", message: "changed" }, status());
    expect(r).toEqual({ at, type: "drift", toplevel: "/nix/store/a-old", expected: "/nix/store/b-new", generation: 3, version: "1.0.0", commit: undefined, by: "engine deployment 1 (switch, committed)", message: "changed" });
  });
});
