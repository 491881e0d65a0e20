import type { HostImpact, ImpactReport, SystemDiff } from "../inspect/index.js";
import { formatBytes } from "./output.js";

function signedBytes(n: number): string {
  return `${n < 0 ? "-" : "+"}${formatBytes(Math.abs(n))}`;
}

const versions = (v: readonly string[]) => v.map((x) => x || "(no version)").join(", ");

/** Plain-text lines of a system diff (oscd diff, oscd upgrade --diff; deploy can print the same). */
export function systemDiffLines(d: SystemDiff): string[] {
  if (!d.changed) return ["no change: both are the same system"];
  const lines: string[] = [];
  for (const c of d.packages.changed) lines.push(`  ~ ${c.name}: ${versions(c.from)} → ${versions(c.to)}`);
  for (const a of d.packages.added) lines.push(`  + ${a.name} ${versions(a.versions)}`);
  for (const r of d.packages.removed) lines.push(`  - ${r.name} ${versions(r.versions)}`);
  if (lines.length === 0) lines.push("  (no package versions change)");
  lines.unshift(`packages: ${d.packages.changed.length} changed, ${d.packages.added.length} added, ${d.packages.removed.length} removed`);
  lines.push(`closure: ${formatBytes(d.closureSize.from)} → ${formatBytes(d.closureSize.to)} (${signedBytes(d.closureSize.difference)})`);
  lines.push(d.reboot.needed ? `reboot: needed (${d.reboot.reasons.join(", ")})` : "reboot: not needed");
  return lines;
}

/** Text from the evaluated code (names, Nix's messages) as inert Markdown on one line. */
function mdEscape(s: string): string {
  return s.replace(/\s+/g, " ").replace(/[\\`*_{}[\]<>|#@!]/g, (c) => `\\${c}`);
}

function packageCell(d: SystemDiff | undefined): string {
  if (!d) return "";
  const parts = [
    ...d.packages.changed.map((c) => `${mdEscape(c.name)} ${mdEscape(versions(c.from))} → ${mdEscape(versions(c.to))}`),
    ...d.packages.added.map((a) => `+${mdEscape(a.name)} ${mdEscape(versions(a.versions))}`),
    ...d.packages.removed.map((r) => `−${mdEscape(r.name)} ${mdEscape(versions(r.versions))}`),
  ];
  const shown = parts.slice(0, 12);
  return shown.join("<br>") + (parts.length > shown.length ? `<br>… ${parts.length - shown.length} more` : "");
}

function rebootCell(h: HostImpact): string {
  if (h.status !== "changed" || !h.diff) return "";
  return h.diff.reboot.needed ? `**yes** (${h.diff.reboot.reasons.join(", ")})` : "no";
}

function statusCell(h: HostImpact): string {
  if (h.status === "failed") return `**failed** (${h.error?.side}: ${mdEscape(h.error?.message.slice(0, 200) ?? "")})`;
  return h.status;
}

/** The pull-request comment: a marker line (so the workflow finds and updates its comment), a summary and a table. */
export const IMPACT_MARKER = "<!-- oscd-impact -->";

export function impactMarkdown(r: ImpactReport): string {
  const changed = r.hosts.filter((h) => h.status === "changed" || h.status === "added" || h.status === "removed");
  const reboots = r.hosts.filter((h) => h.diff?.reboot.needed);
  const failed = r.hosts.filter((h) => h.status === "failed");
  const lines = [
    IMPACT_MARKER,
    `### oscd impact: ${r.from.commit.slice(0, 12)} → ${r.to.commit.slice(0, 12)}`,
    "",
    `${changed.length} of ${r.hosts.length} host(s) change, ${reboots.length} need a reboot${failed.length > 0 ? `, **${failed.length} failed**` : ""}.`,
    "",
    "| host | change | packages | closure | reboot |",
    "|---|---|---|---|---|",
  ];
  for (const h of r.hosts) {
    const size = h.diff ? signedBytes(h.diff.closureSize.difference) : "";
    lines.push(`| ${mdEscape(h.host)} | ${statusCell(h)} | ${packageCell(h.diff)} | ${size} | ${rebootCell(h)} |`);
  }
  return lines.join("\n") + "\n";
}

/** Plain-text impact, one block per host. */
export function impactText(r: ImpactReport): string {
  const out: string[] = [`impact ${r.from.ref} (${r.from.commit.slice(0, 12)}) → ${r.to.ref} (${r.to.commit.slice(0, 12)})`];
  for (const h of r.hosts) {
    if (h.status === "failed") out.push(`${h.host}: failed at ${h.error?.side}: ${h.error?.message}`);
    else if (h.status !== "changed" || !h.diff) out.push(`${h.host}: ${h.status}`);
    else out.push(`${h.host}: changed`, ...systemDiffLines(h.diff).map((l) => `  ${l}`));
  }
  return out.join("\n") + "\n";
}
