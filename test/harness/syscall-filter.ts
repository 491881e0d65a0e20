import { join } from "node:path";
import { run } from "../../src/core/exec.js";
import { REPO_ROOT } from "./oscd.js";
import { tempDir } from "./fixtures.js";

/**
 * A systemd unit's SystemCallFilter= (with SystemCallErrorNumber=EPERM) and
 * RestrictAddressFamilies=, applied to a command without systemd: systemd's own group lists
 * (`systemd-analyze syscall-filter`) expanded to names, loaded with libseccomp by a small
 * runner (syscall-filter.c, compiled on first use). Needs cc, libseccomp's headers and
 * systemd-analyze (scripts/lib/setup.sh installs them); without them it fails, naming what is missing.
 */
let runner: Promise<string> | undefined;

async function must(cmd: string, args: string[], what: string): Promise<string> {
  const r = await run(cmd, args, { timeoutMs: 120_000 }).catch((e: unknown) => ({ exitCode: -1, stdout: "", stderr: String(e) }));
  if (r.exitCode !== 0) throw new Error(`${what} failed (${cmd} ${args.slice(0, 3).join(" ")}…): ${r.stderr.trim().split("\n").slice(-3).join(" ")}; scripts/lib/setup.sh installs gcc, libseccomp-dev and systemd`);
  return r.stdout;
}

/** The compiled runner: `runner [family=AF_X ...] NAME ... -- COMMAND ARG ...`. */
export function syscallFilterRunner(): Promise<string> {
  runner ??= (async () => {
    const dir = await tempDir("syscall-filter");
    const bin = join(dir, "syscall-filter");
    await must("cc", ["-O2", "-o", bin, join(REPO_ROOT, "test", "harness", "syscall-filter.c"), "-lseccomp"], "compiling the seccomp runner");
    return bin;
  })();
  return runner;
}

/** systemd's groups (`@system-service`, …) and names, as the system call names they allow. */
export async function expandSyscallFilter(entries: readonly string[]): Promise<string[]> {
  const text = await must("systemd-analyze", ["syscall-filter"], "listing systemd's system call groups");
  const groups = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split("\n")) {
    if (/^@\S+/.test(line)) groups.set(line.trim(), (current = []));
    else if (current && /^\s+[^\s#]/.test(line)) current.push(line.trim());
  }
  const out = new Set<string>();
  const add = (entry: string, seen: Set<string>): void => {
    if (!entry.startsWith("@")) return void out.add(entry);
    const members = groups.get(entry);
    if (!members) throw new Error(`systemd-analyze knows no group ${entry}`);
    if (seen.has(entry)) return;
    seen.add(entry);
    for (const m of members) add(m, seen);
  };
  for (const e of entries) {
    if (e.startsWith("~")) throw new Error(`deny lists (${e}) are not supported by the test runner`);
    add(e, new Set());
  }
  return [...out].sort();
}

/** The argv prefix that runs a command under `filter` and `families`. */
export async function syscallFilterPrefix(filter: readonly string[], families: readonly string[]): Promise<string[]> {
  return [await syscallFilterRunner(), ...families.map((f) => `family=${f}`), ...(await expandSyscallFilter(filter)), "--"];
}
