import { paint, paintState } from "./colour.js";

/**
 * Live progress on stderr, one format for every command (as the demo prints it):
 *
 *     web1     │ build     built in 1.2s
 *     oscd     │ pin       commit 3c0279923413 (ref main, version 1.0.0)
 *
 * `who` is a host (or `oscd` for the command itself), `step` what it is doing, then the
 * detail. Stdout stays for results and --json.
 */
export type Say = (who: string, step: string, detail?: string) => void;

const WHO_WIDTH = 8;
const STEP_WIDTH = 9;
const MAX_DETAIL = 300;

/** One progress line (no newline). The step is coloured by how it ended, the detail as it is. */
export function progressLine(who: string, step: string, detail = "", colour = paint("stderr"), maxDetail = MAX_DETAIL): string {
  const d = detail.length > maxDetail ? `${detail.slice(0, maxDetail)}…` : detail;
  const stepText = paintState(colour, step) + " ".repeat(Math.max(0, STEP_WIDTH - step.length));
  const detailText = /^(failed|refused|rolled back|error)\b/.test(d) ? colour.red(d) : d;
  return `${colour.bold(who.padEnd(WHO_WIDTH))} ${colour.dim("│")} ${d ? `${stepText} ${detailText}` : step}`.trimEnd();
}

export function progressSay(write: (s: string) => void = (s) => process.stderr.write(s)): Say {
  return (who, step, detail) => write(`${progressLine(who, step, detail)}\n`);
}

/**
 * The `(step, detail)` printer the stages take (activate, upgrade, update, diff…), for one
 * `who`: the machine's host name, or `oscd` for the fleet.
 */
export function progressPrinter(enabled: boolean, who = "oscd", write?: (s: string) => void): (step: string, detail: string) => void {
  if (!enabled) return () => undefined;
  const say = progressSay(write);
  return (step, detail) => say(who, step, detail);
}

/** A warning line in the same format. */
export function warn(message: string, who = "oscd", write: (s: string) => void = (s) => process.stderr.write(s)): void {
  write(`${progressLine(who, "warning", message)}\n`);
}
