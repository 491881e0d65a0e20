import type { DeployEvent, HostReport } from "../deploy/index.js";
import { formatMs, table } from "./output.js";
import { progressLine } from "./progress.js";
import { systemDiffLines } from "./system-diff-format.js";

/**
 * Live per-host progress on stderr: on a terminal one line per host, rewritten in place; else
 * plain lines, one per step. Stdout stays for the summary (or --json events).
 */
export function deployProgress(tty: boolean, write: (s: string) => void = (s) => process.stderr.write(s)): (e: DeployEvent) => void {
  const order: string[] = [];
  const lines = new Map<string, string>();
  let drawn = 0;
  const clip = (s: string) => (s.length > 160 ? `${s.slice(0, 160)}…` : s);
  const redraw = () => {
    let out = drawn > 0 ? `\x1b[${drawn}A` : "";
    for (const h of order) out += `\x1b[2K${lines.get(h) ?? ""}\n`;
    drawn = order.length;
    write(out);
  };
  const say = (text: string) => {
    if (tty && drawn > 0) {
      // A message above the live block: erase it, print, draw it again below.
      write(`\x1b[${drawn}A\x1b[J${text}\n`);
      drawn = 0;
      redraw();
    } else write(`${text}\n`);
  };
  const line = (who: string, step: string, detail = "") => progressLine(who, step, detail);
  return (e) => {
    switch (e.type) {
      case "phase":
        say(line("oscd", e.phase, e.detail));
        return;
      case "plan":
        say(line("oscd", "plan", `deploying ${e.hosts.length} host(s) from ${e.commit?.slice(0, 12) ?? "?"} (ref ${e.ref ?? "?"}${e.version ? `, version ${e.version}` : ""})`));
        if (tty) for (const h of e.hosts) if (!order.includes(h)) order.push(h);
        return;
      case "warning":
        say(line(e.host ?? "oscd", "warning", e.message));
        return;
      case "diff":
        say([line(e.host, "diff", "what changes (running system → new system)"), ...systemDiffLines(e.diff).map((l) => line(e.host, "diff", `  ${l.trim()}`))].join("\n"));
        return;
      case "stopped":
        say(line("oscd", "stopped", `${e.reason}; not started: ${e.skipped.join(", ") || "none"}`));
        return;
      case "host":
      case "host-done": {
        const host = e.type === "host" ? e.host : e.report.host;
        const text = e.type === "host" ? line(host, e.step, e.detail ? clip(e.detail) : "") : line(host, e.report.result, `${e.report.error ? `${clip(e.report.error.message)} ` : ""}in ${formatMs(e.report.timeMs)}`);
        if (!tty) return write(`${text}\n`);
        if (!order.includes(host)) order.push(host);
        lines.set(host, text);
        redraw();
      }
    }
  };
}

const gen = (g?: number, v?: string) => (g === undefined && !v ? "-" : `${g ?? "?"}${v ? ` (${v})` : ""}`);

export function deploySummary(hosts: readonly HostReport[]): string {
  const rows = [["HOST", "RESULT", "GENERATION", "TIME", "NOTE"]];
  for (const h of hosts) {
    const moved = h.result === "done" ? `${gen(h.old.generation, h.old.version)} → ${gen(h.new.generation, h.new.version)}` : gen(h.old.generation, h.old.version);
    const note = h.error ? `${h.error.code}: ${h.error.message}` : [...(h.result === "copied" ? [`${h.new.system ?? "closure"} copied; nothing activated`] : []), ...(h.rebooted ? ["rebooted into the new system"] : []), ...h.warnings].join("; ");
    rows.push([h.host, h.result, moved, formatMs(h.timeMs), note.replace(/[^\x20-\x7e→]/g, "?").slice(0, 200)]);
  }
  return table(rows, [1]);
}
