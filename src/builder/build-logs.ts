import { nixGlobals, nixRun, type NixCallOptions } from "../nix/index.js";

/** The part of a realise job these need (realise.ts's RealiseJob). */
interface Job {
  host: string;
  drvPath: string;
}

/** Lines of a build's log kept for its error message when it fails. */
const TAIL_LINES = 25;

/** A derivation's name without its hash and `.drv`: what `nix build -L` prefixes lines with. */
export function drvName(drv: string): string {
  return drv.replace(/^\/nix\/store\/[0-9a-z]{32}-/, "").replace(/\.drv$/, "");
}

/** With `-L`: where each line goes, and whom a derivation's lines are shown for. */
export interface LogStream {
  sink: (who: string, line: string) => void;
  who: (drv: string) => string;
}

/**
 * The build logs of one `nix-store --realise`, from Nix's JSON log: the last lines of every
 * build (so a failed host's error can show them), and with `-L` every line as it comes.
 */
export class BuildLogBook {
  private readonly drvOf = new Map<number, string>();
  private readonly whoOf = new Map<number, string>();
  private readonly tails = new Map<string, string[]>();

  constructor(private readonly stream?: LogStream) {}

  started(id: number, drv: string): void {
    this.drvOf.set(id, drv);
    if (this.stream) this.whoOf.set(id, this.stream.who(drv));
  }

  line(id: number | undefined, text: string): void {
    const drv = id === undefined ? undefined : this.drvOf.get(id);
    if (drv !== undefined) {
      const tail = this.tails.get(drv) ?? [];
      tail.push(text);
      if (tail.length > TAIL_LINES) tail.shift();
      this.tails.set(drv, tail);
    }
    this.stream?.sink((id === undefined ? undefined : this.whoOf.get(id)) ?? "nix", text);
  }

  tail(drv: string): readonly string[] {
    return this.tails.get(drv) ?? [];
  }
}

/**
 * With `-L` (nix/globals.ts), each build log line is shown for the host it is built for: the
 * host's toplevel, or a derivation in the closure of that host only (one `nix-store --query
 * --requisites` per host, asked only then); a derivation several hosts share by its own name.
 */
export async function buildLogStream(todo: readonly Job[], nix: NixCallOptions): Promise<LogStream | undefined> {
  const g = nixGlobals();
  if (!g.printBuildLogs || !g.onBuildLog) return undefined;
  const owners = new Map<string, Set<string>>();
  for (const j of todo) {
    const r = await nixRun("nix-store", ["--query", "--requisites", j.drvPath], { timeoutMs: 120_000, ...nix, onLog: undefined });
    const drvs = r.exitCode === 0 ? r.stdout.split("\n").filter((l) => l.endsWith(".drv")) : [j.drvPath];
    for (const d of drvs) owners.set(d, (owners.get(d) ?? new Set()).add(j.host));
  }
  return {
    sink: g.onBuildLog,
    who: (drv) => {
      const hosts = owners.get(drv);
      return hosts && hosts.size === 1 ? ([...hosts][0] as string) : drvName(drv);
    },
  };
}

const FAILED_BUILDER = /builder for '(\/nix\/store\/[^']+\.drv)' failed/g;

/**
 * The detail of a host whose build failed: Nix's messages about its toplevel, then the last log
 * lines of each build that failed for it (its toplevel's, or when a dependency failed, those of
 * the failed derivations that are no other host's toplevel).
 */
export function failedBuildDetail(job: Job, messages: readonly string[], book: BuildLogBook, otherToplevels: ReadonlySet<string>): string | undefined {
  const mine = messages.filter((m) => m.includes(job.drvPath));
  const failed = new Set<string>();
  for (const m of messages) for (const x of m.matchAll(FAILED_BUILDER)) failed.add(x[1] as string);
  const dependencyFailed = mine.some((m) => /dependenc(y|ies)/.test(m));
  const relevant = [...failed].filter((d) => d === job.drvPath || (dependencyFailed && !otherToplevels.has(d)));
  const parts = [...mine];
  for (const d of relevant) {
    const tail = book.tail(d);
    if (tail.length > 0) parts.push(`last ${tail.length} log line(s) of ${drvName(d)}:\n${tail.map((l) => `> ${l}`).join("\n")}`);
    if (d !== job.drvPath && !mine.some((m) => m.includes(d))) parts.unshift(...messages.filter((m) => m.includes(d)));
  }
  const text = parts.join("\n").trim();
  return text.includes("\n") ? text : undefined;
}
