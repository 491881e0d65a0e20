/**
 * JSON lines on stdout, for journald. Every refusal is logged with its code and cause; every
 * event the control socket streams is logged too, so the journal tells the same story.
 *
 * The lines are pino's (numeric `level`, ISO `time`, `component`, the fields, `msg`), written
 * here in a few lines rather than by pino itself: pino's import alone cost ~6 MB of the idle
 * agent's memory (measured with bench/agent.ts), and the agent needs nothing else from it.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 };

export interface Logger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export function agentLogger(level: string, destination: NodeJS.WritableStream = process.stdout): Logger {
  const min = LEVELS[level as LogLevel] ?? LEVELS.info;
  const write = (lv: LogLevel) => (fields: Record<string, unknown>, msg: string) => {
    if (LEVELS[lv] < min) return;
    destination.write(`${JSON.stringify({ level: LEVELS[lv], time: new Date().toISOString(), pid: process.pid, component: "oscd-agent", ...fields, msg })}\n`);
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}
