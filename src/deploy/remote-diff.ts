import { z } from "zod";
import type { SystemDiff } from "../inspect/index.js";
import { commandLine, lastLine, sshRun } from "./ssh.js";
import type { Remote } from "./remote.js";

const names = z.array(z.string().max(400)).max(10_000);
const entry = z.object({ name: z.string().max(400), versions: names });
// The host's answer is checked for shape before it is printed: it is text from another machine.
const remoteDiffSchema = z.object({
  from: z.string(),
  to: z.string(),
  changed: z.boolean(),
  packages: z.object({
    added: z.array(entry).max(10_000),
    removed: z.array(entry).max(10_000),
    changed: z.array(z.object({ name: z.string().max(400), from: names, to: names })).max(10_000),
  }),
  closureSize: z.object({ from: z.number(), to: z.number(), difference: z.number() }),
  reboot: z.object({ needed: z.boolean(), reasons: z.array(z.string().max(100)).max(20) }),
});

/**
 * What the deployment will change on the host, computed there after the copy (both closures
 * are in the host's store only): `oscd diff` of the running system against the new toplevel.
 * Reading the store needs no root, so no sudo. A host that cannot answer gets a reason, not a
 * guess; the deployment itself goes on either way.
 */
export async function diffOnHost(r: Remote, toplevel: string): Promise<{ diff: SystemDiff } | { reason: string }> {
  const argv = [...r.oscd, "diff", r.target.host, "--from", "running", "--to", toplevel, "--json", "--quiet"];
  const res = await sshRun(r.target, r.ssh, commandLine(argv), { timeoutMs: 300_000 });
  if (res.exitCode !== 0) return { reason: `oscd diff on the host exited ${res.exitCode}: ${lastLine(res.stderr)}` };
  try {
    const parsed = remoteDiffSchema.safeParse(JSON.parse(res.stdout));
    if (parsed.success && parsed.data.to === toplevel) return { diff: parsed.data };
    return { reason: "the host's oscd diff answered something other than a diff of this system" };
  } catch {
    return { reason: "the host's oscd diff did not answer JSON" };
  }
}
