/**
 * Warnings a stage has for the user (something that will surprise them, not an error), written
 * where the CLI says: one process-wide sink, set once from src/cli (its warning line format).
 * The default writes a plain `oscd: warning: …` line on stderr.
 */
let sink: (message: string) => void = (m) => process.stderr.write(`oscd: warning: ${m}\n`);

export function setWarningSink(write: (message: string) => void): void {
  sink = write;
}

export function warnUser(message: string): void {
  sink(message);
}
