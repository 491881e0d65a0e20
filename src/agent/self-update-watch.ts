import { randomBytes } from "node:crypto";
import { run } from "../core/exec.js";
import { controlRequest } from "./control-socket.js";
import { readMarker, waitUntil, writeMarker } from "./self-update.js";

export interface WatchOptions {
  unit: string;
  socket: string;
  stateDir: string;
  timeoutSec: number;
  previousPid: number;
  /** How the old agent was started (its Node, oscd and arguments): brought back if the new one fails. */
  previousArgv: string[];
}

/**
 * `oscd agent self-update-watch` (systemd only; the old agent starts it in a transient unit of its
 * own): restarts the agent's unit, which systemd now runs with the new system's definition, and
 * waits for a new agent to answer on the control socket. If none does in time, the unit is stopped
 * (no restart loop of a broken agent) and the old agent is started again in a transient unit; the
 * marker file tells it why, and it reports that.
 */
export async function selfUpdateWatch(o: WatchOptions, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  const marker = await readMarker(o.stateDir);
  const restart = await run("systemctl", ["restart", o.unit], { timeoutMs: 5 * 60_000 });
  let reason: string | undefined = restart.exitCode === 0 ? undefined : `systemctl restart ${o.unit} exited ${restart.exitCode}: ${restart.stderr.trim().split("\n").pop() ?? ""}`;
  if (!reason) {
    const outcome = await waitUntil(
      async () => {
        try {
          const s = (await controlRequest(o.socket, "status", 2000)) as { agent?: { pid?: number } };
          return s.agent?.pid !== undefined && s.agent.pid !== o.previousPid;
        } catch {
          return false;
        }
      },
      () => false,
      o.timeoutSec * 1000,
    );
    if (outcome === "ready") {
      log(`oscd: the new agent of ${o.unit} answers`);
      return 0;
    }
    reason = `the new agent of ${o.unit} did not answer on ${o.socket} within ${o.timeoutSec} s`;
  }
  log(`oscd: ${reason}; stopping ${o.unit} and starting the previous agent again`);
  await run("systemctl", ["stop", o.unit], { timeoutMs: 2 * 60_000 });
  if (marker) await writeMarker(o.stateDir, { ...marker, state: "failed", reason, at: new Date().toISOString() });
  const name = `oscd-agent-previous-${Date.now()}-${randomBytes(3).toString("hex")}`;
  const env = Object.entries(process.env)
    .filter(([k]) => k === "PATH" || k === "NODE_OPTIONS")
    .map(([k, v]) => `--setenv=${k}=${v ?? ""}`);
  const back = await run("systemd-run", [`--unit=${name}`, "--collect", "--property=Restart=on-failure", ...env, "--", ...o.previousArgv], { timeoutMs: 60_000 });
  if (back.exitCode !== 0) {
    log(`oscd: the previous agent could not be started (${back.stderr.trim().split("\n").pop() ?? ""}); start ${o.unit} by hand`);
    return 1;
  }
  return 1;
}
