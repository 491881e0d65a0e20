import { readFileSync } from "node:fs";

/** The agent's notion of now. Injectable so tests can open a maintenance window on cue. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

/**
 * For tests only: `OSCD_TEST_NOW_FILE` names a file holding an ISO time that the agent reads as
 * now (re-read at every look at the clock). Unset: the system clock.
 */
export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): Clock {
  const file = env.OSCD_TEST_NOW_FILE;
  if (!file) return systemClock;
  return () => {
    try {
      const d = new Date(readFileSync(file, "utf8").trim());
      return Number.isNaN(d.getTime()) ? new Date() : d;
    } catch {
      return new Date();
    }
  };
}
