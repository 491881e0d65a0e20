import { run } from "../core/exec.js";

export interface PostDeployFacts {
  host: string;
  status: "done" | "failed" | "unchanged";
  commit?: string;
  ref?: string;
  version?: string;
  generation?: number;
  toplevel: string;
  source: string;
  error?: string;
}

/**
 * The post-deployment command (comin's `postDeploymentCommand`), as an argument array, with the
 * facts in its environment: OSCD_GIT_SHA, OSCD_GIT_REF, OSCD_VERSION, OSCD_GENERATION,
 * OSCD_STATUS, OSCD_ERROR_MSG, OSCD_HOSTNAME, OSCD_TOPLEVEL, OSCD_SOURCE. Its failure is logged,
 * never a reason to undo a deployment.
 */
export async function runPostDeploy(argv: readonly string[], f: PostDeployFacts, timeoutMs = 300_000): Promise<{ exitCode: number; stderr: string }> {
  const env: Record<string, string> = {
    OSCD_HOSTNAME: f.host,
    OSCD_STATUS: f.status,
    OSCD_GIT_SHA: f.commit ?? "",
    OSCD_GIT_REF: f.ref ?? "",
    OSCD_VERSION: f.version ?? "",
    OSCD_GENERATION: f.generation === undefined ? "" : String(f.generation),
    OSCD_TOPLEVEL: f.toplevel,
    OSCD_SOURCE: f.source,
    OSCD_ERROR_MSG: f.error ?? "",
  };
  const [file, ...args] = argv;
  const r = await run(file as string, args, { timeoutMs, env });
  return { exitCode: r.exitCode, stderr: r.stderr.slice(-2000) };
}
