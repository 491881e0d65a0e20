/**
 * Colour on a terminal, so a `failed` line does not look like an `ok` one. `--color=always|never`
 * decides; with `auto` (the default) NO_COLOR (any non-empty value, no-color.org) turns it off,
 * FORCE_COLOR (other than 0/false) turns it on, else each stream is coloured when it is a
 * terminal (and TERM is not dumb). Only the CLI colours; stages never see escapes.
 */
export type ColourMode = "auto" | "always" | "never";

export const COLOUR_MODES: readonly ColourMode[] = ["auto", "always", "never"];

export function colourWanted(mode: ColourMode, isTTY: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  if (mode === "always") return true;
  if (mode === "never") return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && !/^(0|false)$/i.test(env.FORCE_COLOR)) return true;
  return isTTY && env.TERM !== "dumb";
}

type Stream = "stdout" | "stderr";

/** Per stream: decided (true or false), or how to decide when first asked. */
const state: Record<Stream, boolean | ((isTTY: boolean) => boolean)> = { stdout: false, stderr: false };

/**
 * Sets colour for both streams from --color and the environment (as they are now); whether a
 * stream is a terminal is asked of its file descriptor when something is first painted for it.
 * Asking at once loaded node:tty (and net and stream behind it, some 5 ms of CPU), and making
 * `process.stdout` or `process.stderr` to ask them more: most commands that succeed paint
 * nothing, and `oscd activate --quiet` with nothing to do writes one plain line.
 */
export function setColourMode(mode: ColourMode, env: NodeJS.ProcessEnv = process.env): void {
  const seen = { NO_COLOR: env.NO_COLOR, FORCE_COLOR: env.FORCE_COLOR, TERM: env.TERM };
  state.stdout = state.stderr = (isTTY) => colourWanted(mode, isTTY, seen);
}

export function colourOn(stream: Stream): boolean {
  const s = state[stream];
  if (typeof s === "boolean") return s;
  return (state[stream] = s(process.getBuiltinModule("node:tty").isatty(stream === "stdout" ? 1 : 2)));
}

/** For tests. */
export function setColour(on: { stdout?: boolean; stderr?: boolean }): void {
  Object.assign(state, on);
}

const sgr = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;

export interface Paint {
  red: (s: string) => string;
  green: (s: string) => string;
  yellow: (s: string) => string;
  cyan: (s: string) => string;
  bold: (s: string) => string;
  dim: (s: string) => string;
}

const PLAIN: Paint = { red: (s) => s, green: (s) => s, yellow: (s) => s, cyan: (s) => s, bold: (s) => s, dim: (s) => s };
const COLOUR: Paint = { red: sgr("31"), green: sgr("32"), yellow: sgr("33"), cyan: sgr("36"), bold: sgr("1"), dim: sgr("2") };

/** The painter for a stream: identity functions when it is not coloured. */
export function paint(stream: Stream): Paint {
  return colourOn(stream) ? COLOUR : PLAIN;
}

/** A word that says how something ended, in its colour: failures red, warnings yellow, success green. */
export function paintState(p: Paint, word: string): string {
  if (/^(failed|error|rolled[- ]back|refused|timed[- ]out|aborted|unreachable)\b/i.test(word)) return p.red(word);
  if (/^(warning|skipped|held[- ]back|stopped|waiting|not[- ]started)\b/i.test(word)) return p.yellow(word);
  if (/^(ok|done|built|present|already present|committed|copied|confirmed|uploaded|written|verified|passed|evaluated|healthy)\b/i.test(word)) return p.green(word);
  return word;
}
