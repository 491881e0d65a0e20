/** Shared printing helpers: the CLI prints, the stages compute. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}
