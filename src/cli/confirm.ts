import { createInterface } from "node:readline";
import { OscdError } from "../core/errors.js";

/**
 * Asks before a command acts on every host (no selection given) or pushes a merge: only when a
 * person is there to answer (stdin and stderr are terminals). Without a terminal (CI, pipes)
 * nothing is asked and the command goes ahead as it always did; `--yes` skips the question.
 */
export interface ConfirmOptions {
  yes?: boolean;
  /** For tests: whether a person is at a terminal (default: stdin and stderr are TTYs). */
  interactive?: boolean;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

export function interactive(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

export class NotConfirmedError extends OscdError {
  constructor(what: string) {
    super("not-confirmed", `nothing done: ${what} was not confirmed`, { hint: "answer y to go ahead, pass --yes to skip the question, or name the hosts with --on" });
  }
}

/** Resolves when the answer is yes (or nobody can be asked); throws NotConfirmedError otherwise. */
export async function confirm(question: string, what: string, o: ConfirmOptions = {}): Promise<void> {
  if (o.yes || !(o.interactive ?? interactive())) return;
  const input = o.input ?? process.stdin;
  const rl = createInterface({ input, output: o.output ?? process.stderr, terminal: false });
  (o.output ?? process.stderr).write(`${question} [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    let done = false;
    const finish = (a: string) => {
      if (done) return;
      done = true;
      rl.close();
      resolve(a);
    };
    rl.once("line", finish);
    rl.once("close", () => finish(""));
  });
  // The terminal stays ours for later prompts (a sudo password); nothing more is read now.
  if (input === process.stdin) process.stdin.pause();
  if (!/^\s*y(es)?\s*$/i.test(answer)) throw new NotConfirmedError(what);
}

/** "12 hosts (web1, web2, … db3)": the hosts a question names, shortened for a large fleet. */
export function hostList(hosts: readonly string[]): string {
  return `${hosts.length} host${hosts.length === 1 ? "" : "s"} (${shortened(hosts).join(", ")})`;
}

/** "web2, web3", or "12 hosts: web1, web2, …, db3" when there are more than 8. */
export function hostNames(hosts: readonly string[]): string {
  return hosts.length <= 8 ? hosts.join(", ") : `${hosts.length} hosts: ${shortened(hosts).join(", ")}`;
}

const shortened = (hosts: readonly string[]): readonly string[] => (hosts.length <= 8 ? hosts : [...hosts.slice(0, 6), "…", hosts[hosts.length - 1] as string]);
