import { pino, type Logger } from "pino";

/**
 * JSON lines on stdout, for journald. Every refusal is logged with its code and cause; every
 * event the control socket streams is logged too, so the journal tells the same story.
 */
export function agentLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { component: "oscd-agent" }, timestamp: pino.stdTimeFunctions.isoTime }, destination ?? process.stdout);
}

export type { Logger };
