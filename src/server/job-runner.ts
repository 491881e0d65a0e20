import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../core/exec.js";
import type { JobRunner } from "./jobs.js";

/**
 * The jobs as oscd commands, run as argument arrays in the fleet repository: a release job is
 * `oscd release from-event EVENT --push`, a publish job `oscd publish --manifest-out DIR`, whose
 * manifest then becomes a release on this server (verified like any upload). The signing key
 * reaches publish through the server's environment, never its argv.
 */
export interface CliJobOptions {
  /** How to start oscd, e.g. [process.execPath, "/usr/lib/oscd/bin/oscd.js"]. */
  oscd: readonly string[];
  repo: string;
  channel: string;
  /** More arguments for `oscd publish` (e.g. `--state-dir`), as an array. */
  publishArgs?: readonly string[];
  timeoutMs?: number;
}

function logOf(cmd: readonly string[], r: { exitCode: number; stdout: string; stderr: string }): string {
  return `$ ${cmd.join(" ")}\n${r.stdout}${r.stderr}exit ${r.exitCode}\n`;
}

export function cliJobRunner(o: CliJobOptions): JobRunner {
  const [file, ...pre] = o.oscd as [string, ...string[]];
  const timeoutMs = o.timeoutMs ?? 3_600_000;
  return async (job) => {
    const dir = await mkdtemp(join(tmpdir(), "oscd-job-"));
    try {
      if (job.kind === "release") {
        const event = join(dir, "event.json");
        await writeFile(event, JSON.stringify(job.input.payload ?? {}), { mode: 0o600 });
        const args = [...pre, "release", "from-event", event, "--push", "-C", o.repo, "--json"];
        const r = await run(file, args, { timeoutMs, cwd: o.repo });
        return { ok: r.exitCode === 0, log: logOf([file, ...args], r) };
      }
      if (job.kind === "publish") {
        const out = join(dir, "manifests");
        const args = [...pre, "publish", "--repo", o.repo, "--channel", o.channel, "--manifest-out", out, ...(o.publishArgs ?? [])];
        const r = await run(file, args, { timeoutMs, cwd: o.repo });
        if (r.exitCode !== 0) return { ok: false, log: logOf([file, ...args], r) };
        return { ok: true, log: logOf([file, ...args], r), manifest: await readFile(join(out, `${o.channel}.json`), "utf8") };
      }
      return { ok: false, log: `unknown job kind ${job.kind}` };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}
