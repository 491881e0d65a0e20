import { paint, paintState } from "./colour.js";

/** Shared printing helpers: the CLI prints, the stages compute. */
let jsonWritten = false;

export function printJson(value: unknown): void {
  jsonWritten = true;
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** One JSON document per line (a stream of events or results, `--json` of long commands). */
export function printJsonLine(value: unknown): void {
  jsonWritten = true;
  process.stdout.write(JSON.stringify(value) + "\n");
}

/** Whether a JSON result is on stdout already (an error then goes to stderr, not as a second document). */
export function stdoutHasJson(): boolean {
  return jsonWritten;
}

/**
 * Left-aligned columns; the last column is not padded. `states` names columns whose words say
 * how something ended (failed, built, …): coloured on a terminal, after padding.
 */
export function table(rows: string[][], states: readonly number[] = []): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  const p = paint("stdout");
  const cell = (c: string, i: number, r: number, last: boolean) => {
    const text = last ? c : c.padEnd(widths[i] ?? 0);
    if (r === 0) return p.bold(text);
    return states.includes(i) ? text.replace(c, paintState(p, c)) : text;
  };
  return rows.map((r, ri) => r.map((c, i) => cell(c, i, ri, i === r.length - 1)).join("  ").trimEnd()).join("\n") + "\n";
}

export function printTable(header: string[], rows: string[][], states: readonly number[] = []): void {
  process.stdout.write(table([header, ...rows], states));
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms}ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}
