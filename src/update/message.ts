/** One input whose pin moved. */
export interface InputChange {
  name: string;
  from: string;
  to: string;
}

const short = (rev: string) => (/^[0-9a-f]{40}$/.test(rev) ? rev.slice(0, 12) : rev);

/** The update commit's message: the inputs in the subject, each old → new revision in the body. */
export function updateMessage(changes: readonly InputChange[], file: string): string {
  const names = changes.map((c) => c.name).join(", ");
  const lines = changes.map((c) => `- ${c.name}: ${c.from} → ${c.to}`);
  return `Update ${names}\n\n${file}:\n${lines.join("\n")}\n\nOscd-Update: ${changes.map((c) => `${c.name}=${short(c.to)}`).join(" ")}\n`;
}
