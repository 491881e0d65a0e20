import { readdir, readFile, readlink } from "node:fs/promises";
import type { SimHost } from "./simhost.js";

export interface ProcessSample {
  /** How many times /proc was read through. */
  rounds: number;
  /** Every distinct process seen, by its pid namespace. */
  processes: number;
  /** Whether any argv (all processes) or environment (the hosts' processes) held the text. */
  found: { argv: string[]; environ: string[] };
}

/** The pid namespace of a SimHost (`pid:[…]`): what its processes' /proc/PID/ns/pid reads. */
export async function pidNamespace(h: SimHost): Promise<string> {
  return (await h.sh(["readlink", "/proc/self/ns/pid"])).stdout.trim();
}

/**
 * Samples every process's argv, and the environment of the hosts' processes, from the test
 * machine's /proc (the hosts' pid namespaces are nested in it) until stopped, looking for
 * `needles`. The deployer's own environment is left out on purpose: a test driver may pass it
 * secrets (pty-answer's answers), which is not what oscd does on a host.
 */
export function sampleProcesses(needles: readonly string[], hostNamespaces: readonly string[]): { stop(): Promise<ProcessSample> } {
  const found = { argv: new Set<string>(), environ: new Set<string>() };
  const seen = new Set<string>();
  let rounds = 0;
  let running = true;
  const hit = (text: string) => needles.find((n) => text.includes(n));
  const loop = (async () => {
    while (running) {
      const pids = (await readdir("/proc")).filter((p) => /^\d+$/.test(p));
      for (const pid of pids) {
        const ns = await readlink(`/proc/${pid}/ns/pid`).catch(() => undefined);
        const argv = await readFile(`/proc/${pid}/cmdline`, "latin1").catch(() => "");
        seen.add(`${ns}/${pid}/${argv.slice(0, 200)}`);
        if (hit(argv)) found.argv.add(argv.replace(/\0/g, " ").slice(0, 300));
        if (ns === undefined || !hostNamespaces.includes(ns)) continue;
        const environ = await readFile(`/proc/${pid}/environ`, "latin1").catch(() => "");
        if (hit(environ)) found.environ.add(`${argv.replace(/\0/g, " ").slice(0, 200)}: ${environ.replace(/\0/g, " ").slice(0, 300)}`);
      }
      rounds++;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { rounds, processes: seen.size, found: { argv: [...found.argv], environ: [...found.environ] } };
    },
  };
}
