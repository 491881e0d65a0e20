import { describe, expect, it } from "vitest";
import { deployProgress, deploySummary } from "../../../src/cli/deploy-progress.js";
import type { HostReport } from "../../../src/deploy/index.js";

/** What a terminal shows after the writes: cursor-up, erase-line and newlines applied. */
function screen(out: string): string[] {
  const lines: string[] = [];
  let row = 0;
  // eslint-disable-next-line no-control-regex -- terminal escapes are what is parsed
  for (const part of out.split(/(\x1b\[\d*A|\x1b\[2K|\x1b\[J|\n)/)) {
    // eslint-disable-next-line no-control-regex -- terminal escapes are what is parsed
    const up = /^\x1b\[(\d*)A$/.exec(part);
    if (up) row -= Number(up[1] || 1);
    else if (part === "\x1b[2K") lines[row] = "";
    else if (part === "\x1b[J") lines.length = row;
    else if (part === "\n") row++;
    else if (part) lines[row] = (lines[row] ?? "") + part;
  }
  return lines.slice(0, row);
}

const done = (host: string, result: HostReport["result"]): HostReport => ({ host, result, old: { generation: 1, version: "1.0.0" }, new: { generation: 2, version: "1.1.0" }, timeMs: 1500, warnings: [] });

describe("deploy progress", () => {
  it("on a terminal: one line per host, rewritten in place", () => {
    let out = "";
    const p = deployProgress(true, (s) => (out += s));
    p({ type: "plan", hosts: ["a", "b"], commit: "0123456789abcdef", ref: "main" });
    p({ type: "host", host: "a", step: "copy", detail: "/nix/store/x" });
    p({ type: "host", host: "b", step: "copy" });
    p({ type: "host", host: "a", step: "confirm", detail: "new connection" });
    p({ type: "warning", host: "b", message: "no oscd" });
    p({ type: "host-done", report: done("b", "rolled-back") });
    expect(screen(out)).toEqual(["oscd     │ plan      deploying 2 host(s) from 0123456789ab (ref main)", "b        │ warning   no oscd", "a        │ confirm   new connection", "b        │ rolled-back in 1.5s"]);
  });

  it("elsewhere: plain lines, one per step", () => {
    let out = "";
    const p = deployProgress(false, (s) => (out += s));
    p({ type: "plan", hosts: ["a"] });
    p({ type: "host", host: "a", step: "copy" });
    p({ type: "host-done", report: done("a", "done") });
    expect(out).not.toContain("\x1b");
    expect(out.split("\n").filter(Boolean)).toEqual(["oscd     │ plan      deploying 1 host(s) from ? (ref ?)", "a        │ copy", "a        │ done      in 1.5s"]);
  });

  it("the summary shows old → new generation and version for done hosts", () => {
    const t = deploySummary([done("a", "done"), { ...done("b", "rolled-back"), error: { code: "rolled-back", message: "switch failed" } }]);
    expect(t).toMatch(/^a\s+done\s+1 \(1\.0\.0\) → 2 \(1\.1\.0\)\s+1\.5s/m);
    expect(t).toMatch(/^b\s+rolled-back\s+1 \(1\.0\.0\)\s+1\.5s\s+rolled-back: switch failed$/m);
  });
});
