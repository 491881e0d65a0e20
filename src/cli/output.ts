import { writeSync } from "node:fs";
import { paint, paintState } from "./colour.js";

/** Shared printing helpers: the CLI prints, the stages compute. */
let jsonWritten = false;

/** Whether `process.stdout` was made (watchStdout): output then goes through it, in order. */
let streamMade = false;
let watching = false;

function stdoutError(err: NodeJS.ErrnoException): void {
  // A closed pipe (`oscd … | head`) ends the output, not the program with a stack trace.
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
}

/**
 * Called first at the CLI's start: when anything makes `process.stdout` (console.log, commander's
 * help, a command that writes to it), the stream gets the closed-pipe handler and writeStdout
 * writes through it from then on, so output stays in order.
 */
export function watchStdout(): void {
  if (watching) return;
  watching = true;
  const d = Object.getOwnPropertyDescriptor(process, "stdout");
  if (!d?.get || !d.configurable) {
    streamMade = true;
    process.stdout.on("error", stdoutError);
    return;
  }
  const make = d.get;
  Object.defineProperty(process, "stdout", {
    configurable: true,
    enumerable: d.enumerable,
    get(): NodeJS.WriteStream {
      const s = make.call(process) as NodeJS.WriteStream;
      if (!streamMade) {
        streamMade = true;
        s.on("error", stdoutError);
      }
      return s;
    },
  });
}

/**
 * Writes to standard output. Until something makes `process.stdout`, straight to fd 1, as
 * Node's own stdout writes to a file: making the stream (a socket on a pipe, a tty.WriteStream
 * on a terminal) loads Node's net, stream and tty modules, 5 to 8 ms of CPU that `oscd status`
 * and an activation with nothing to do spent on a few lines. For a command's result: a pipe's
 * reader is waited for here where the stream would buffer the rest (the command is ending either
 * way; a stream of events, printJsonLine, keeps the stream). A pipe someone left non-blocking is
 * waited on too, a closed one ends the program as the stream's handler does, and a closed fd 1
 * takes the output away as Node's stdout does.
 */
export function writeStdout(text: string): void {
  if (streamMade) {
    process.stdout.write(text);
    return;
  }
  const bytes = Buffer.from(text, "utf8");
  for (let at = 0; at < bytes.length; ) {
    try {
      at += writeSync(1, bytes, at);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === "EAGAIN") Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      else if (err.code === "EBADF") return;
      else stdoutError(err);
    }
  }
}

export function printJson(value: unknown): void {
  jsonWritten = true;
  writeStdout(JSON.stringify(value, null, 2) + "\n");
}

/**
 * One JSON document per line (a stream of events or results, `--json` of long commands): through
 * the stream, which buffers while a slow reader lags, rather than block a deployment on it.
 */
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
  writeStdout(table([header, ...rows], states));
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
