/** Live progress on stderr, one line per step, so stdout stays for results and --json. */
export function progressPrinter(enabled: boolean, prefix = ""): (step: string, detail: string) => void {
  if (!enabled) return () => undefined;
  return (step, detail) => {
    const line = detail.length > 300 ? `${detail.slice(0, 300)}…` : detail;
    process.stderr.write(`${prefix}[${step}] ${line}\n`);
  };
}
