import { z } from "zod";
import { realiseJobs, type PinnedFleet } from "../builder/index.js";
import { run } from "../core/exec.js";
import { evalExprJson, type NixCallOptions } from "../nix/index.js";

/** One check's outcome: a flake check (`flake:<name>`) or a command from oscd.toml (`command:<argv>`). */
export interface CheckResult {
  name: string;
  ok: boolean;
  detail?: string;
}

const checkList = z.record(z.object({ drv: z.string(), out: z.string() }));

/** A line from untrusted output, made one line and bounded. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is removed
  return s.replace(/[\u0000-\u001f\u007f]+/g, " ").trim().slice(0, 300);
}

/**
 * Builds the flake's `checks.<system>.*` (NixOS tests and the like) in one realise, rooted
 * like the hosts' builds. A classic fleet has none. An evaluation failure is one failed check.
 */
export async function runFlakeChecks(p: PinnedFleet, system: string, rootDir: string | undefined, nix: NixCallOptions = {}): Promise<CheckResult[]> {
  if (p.nixSource.kind !== "flake") return [];
  const expr = `let o = (builtins.getFlake ${JSON.stringify(p.nixSource.flakeRef)}).outputs; in builtins.mapAttrs (_: c: { drv = c.drvPath; out = c.outPath; }) ((o.checks or { }).${JSON.stringify(system)} or { })`;
  let checks: z.infer<typeof checkList>;
  try {
    checks = checkList.parse(await evalExprJson(expr, { ...nix, impure: !/[?&](rev|narHash)=/.test(p.nixSource.flakeRef) }));
  } catch (e) {
    return [{ name: "flake:checks", ok: false, detail: `evaluation failed: ${oneLine(e instanceof Error ? e.message : String(e))}` }];
  }
  const jobs = Object.entries(checks).map(([name, c]) => ({ host: name, drvPath: c.drv, outPath: c.out }));
  if (jobs.length === 0) return [];
  const results = await realiseJobs(jobs, { ...nix, rootName: (n) => `update-check-${n.replace(/[^A-Za-z0-9._+-]/g, "_")}`, rootDir });
  return jobs.map((j) => {
    const r = results.get(j.host);
    return r?.status === "failed" ? { name: `flake:${j.host}`, ok: false, detail: oneLine(r.error.message) } : { name: `flake:${j.host}`, ok: r !== undefined };
  });
}

/**
 * Runs the oscd.toml checks (argument arrays) one after another in the updated commit's
 * read-only snapshot, each with the timeout; exit 0 passes.
 */
export async function runCommandChecks(commands: readonly (readonly string[])[], cwd: string, timeoutMs: number, env: Record<string, string> = {}): Promise<CheckResult[]> {
  // The checks run code the update brought in: they never see the GitHub token.
  const childEnv = { ...env, GITHUB_TOKEN: undefined, OSCD_GITHUB_TOKEN: undefined, GH_TOKEN: undefined };
  const out: CheckResult[] = [];
  for (const argv of commands) {
    const name = `command:${argv.join(" ")}`;
    try {
      const r = await run(argv[0] as string, argv.slice(1), { cwd, timeoutMs, env: childEnv });
      const last = r.stderr.trim().split("\n").at(-1) ?? "";
      out.push(r.exitCode === 0 ? { name, ok: true } : { name, ok: false, detail: `exited ${r.exitCode}${last ? `: ${oneLine(last)}` : ""}` });
    } catch (e) {
      out.push({ name, ok: false, detail: oneLine(e instanceof Error ? e.message : String(e)) });
    }
  }
  return out;
}
