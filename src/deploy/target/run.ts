import { access, readFile } from "node:fs/promises";
import { GuardError, OscdError, isOscdError } from "../../core/errors.js";
import { activate, hostStatus, readGenerationRecords, RolledBackError, withHostLock, DEFAULT_LAYOUT, type HostLayout } from "../../activate/index.js";
import { currentGeneration } from "../../nix/index.js";
import { healthSchema, loadMachineConfig } from "../../fleet/index.js";
import { parseTargetRequest, processStartTime, readJsonFile, readStatus, runnerAlive, targetFiles, writeStatus, FINAL_STATES, type TargetRequest, type TargetStatus } from "./state.js";

const CONFIRM_POLL_MS = 50;
/** A runner that has not written its first status this long after the start never started. */
const RUNNER_START_GRACE_MS = 60_000;

/**
 * The detached half of `oscd deploy-target start`: runs the activation engine for one request
 * and writes every step to the status file. With a confirmation timeout the engine holds the
 * switched, healthy system uncommitted (journal `switched`) until `oscd deploy-target confirm`
 * creates the confirmation file, and rolls back when it does not come in time. Killed, or the
 * machine rebooted meanwhile, the journal is rolled back by the next start (`recover`).
 */
export async function runTargetDeployment(id: string, layout: HostLayout = DEFAULT_LAYOUT): Promise<TargetStatus> {
  const f = targetFiles(id, layout);
  const raw = await readRequest(id, f.request);
  let status: TargetStatus = { id, state: "activating", pid: process.pid, startTime: await processStartTime(process.pid), updatedAt: new Date().toISOString() };
  // Writes are chained so a later status can never be overwritten by an earlier one.
  let written: Promise<void> = Promise.resolve();
  const put = (patch: Partial<TargetStatus>): Promise<void> => {
    status = { ...status, ...patch, updatedAt: new Date().toISOString() };
    const snapshot = status;
    written = written.catch(() => undefined).then(() => writeStatus(f.status, snapshot));
    return written;
  };
  let req: TargetRequest;
  try {
    if (raw instanceof OscdError) throw raw;
    req = parseTargetRequest(id, raw);
  } catch (e) {
    const error = isOscdError(e) ? { code: e.code, message: e.message, exitCode: e.exitCode } : { code: "internal", message: String(e), exitCode: 1 };
    await put({ state: "refused", error });
    return status;
  }
  const before = await currentGeneration(layout.profile).catch(() => undefined);
  const previousVersion = before ? (await readGenerationRecords(layout)).get(before.number)?.version : undefined;
  await put({ previousGeneration: before?.number, previousVersion });
  try {
    const machine = await loadMachineConfig(req.machineConfig);
    const result = await activate({
      toplevel: req.toplevel,
      mode: req.mode,
      host: req.host ?? machine.host,
      release: req.release,
      substituters: machine.substituters,
      trustedPublicKeys: machine.trustedPublicKeys,
      trustRoot: machine.trustRoot,
      health: healthSchema.parse(machine.health ?? {}),
      retention: machine.retention,
      allowDowngrade: req.allowDowngrade,
      retryFailed: req.retryFailed,
      force: req.force,
      layout,
      // Progress goes to the status file; a failed write of it must not stop the activation.
      onProgress: (step, detail) => void put({ step, detail: detail.slice(0, 300) }).catch(() => undefined),
      beforeCommit: req.confirmTimeoutMs > 0 ? () => awaitConfirmation(f, req.confirmTimeoutMs, put) : undefined,
    });
    await put({
      state: result.outcome === "committed" ? "committed" : result.outcome === "unchanged" ? "unchanged" : "dry-run",
      previousGeneration: result.previous.generation,
      previousSystem: result.previous.currentSystem,
      generation: result.generation,
      version: result.release.version,
      rebootNeeded: result.reboot.needed,
      confirmBy: undefined,
    });
  } catch (e) {
    // Rolled back: the state says so, and the code says why (`confirm-timeout`, `health-failed`,
    // `deployer-rejected`, …), as it does for `interrupted`.
    const error =
      e instanceof RolledBackError
        ? { code: e.causeCode, message: e.message, exitCode: e.exitCode }
        : isOscdError(e)
          ? { code: e.code, message: e.message, exitCode: e.exitCode }
          : { code: "internal", message: e instanceof Error ? e.message : String(e), exitCode: 1 };
    const state = e instanceof RolledBackError ? "rolled-back" : error.exitCode === 3 ? "refused" : "failed";
    const j = e instanceof RolledBackError ? e.journal : undefined;
    await put({ state, error, confirmBy: undefined, previousGeneration: j?.previous.generation, previousSystem: j?.previous.currentSystem });
  }
  return status;
}

const MAX_REQUEST_BYTES = 1 << 20;

/**
 * The request as the start script wrote it from the SSH session's input. Whatever it holds
 * that is not the deployer's JSON is refused as `bad-deploy-request` quoting none of it: it may
 * be anything that reached that input (JSON.parse's own message quotes the first characters).
 */
async function readRequest(id: string, path: string): Promise<unknown> {
  const text = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") throw new OscdError("no-such-deployment", `no request for deployment ${id}`);
    throw e;
  });
  const refused = (why: string) => new GuardError("bad-deploy-request", `deployment ${id}: the request is refused: ${why} (${text.length} bytes, not shown)`, "start deployments with oscd deploy or oscd deploy-target start");
  if (text.length > MAX_REQUEST_BYTES) return refused("larger than 1 MiB");
  try {
    return JSON.parse(text.toString("utf8")) as unknown;
  } catch {
    return refused("it is not JSON");
  }
}

async function awaitConfirmation(f: { confirmed: string; rejected: string }, timeoutMs: number, put: (p: Partial<TargetStatus>) => Promise<void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await put({ state: "awaiting-confirm", step: "confirm", detail: `waiting ${Math.round(timeoutMs / 1000)}s for a confirmation over a new connection`, confirmBy: new Date(deadline).toISOString() });
  for (;;) {
    const rejected = await readFile(f.rejected, "utf8").catch(() => undefined);
    if (rejected !== undefined) {
      throw new OscdError("deployer-rejected", `the deployer's checks failed: ${rejected.replace(/[^\x20-\x7e]/g, "?").slice(0, 300)}`, { hint: "see the deployer's probes; the previous system is back" });
    }
    try {
      await access(f.confirmed);
      await put({ state: "activating", step: "confirmed", detail: "confirmation received", confirmBy: undefined });
      return;
    } catch {
      // not confirmed yet
    }
    if (Date.now() >= deadline) {
      throw new OscdError("confirm-timeout", `no confirmation arrived over a new SSH connection within ${Math.round(timeoutMs / 1000)}s (magic rollback)`, {
        hint: "the deployer lost the host after activating (network, sshd or the new configuration); the previous system is back",
      });
    }
    await new Promise((r) => setTimeout(r, CONFIRM_POLL_MS));
  }
}

/**
 * The status as the deployer should see it. A deployment whose runner died before a final
 * state (killed, or the machine rebooted while it awaited its confirmation) is finished here:
 * the engine's recovery rolls back a journal that never got past `switched`.
 */
export async function settledStatus(id: string, layout: HostLayout = DEFAULT_LAYOUT): Promise<TargetStatus> {
  const s = await readStatus(id, layout);
  if (FINAL_STATES.includes(s.state) || (await runnerAlive(s))) return s;
  if (s.state === "started") {
    if (Date.now() - Date.parse(s.updatedAt) < RUNNER_START_GRACE_MS) return s;
    const failed: TargetStatus = { ...s, state: "failed", error: { code: "runner-not-started", message: `the activation process of deployment ${id} never started`, exitCode: 1 }, updatedAt: new Date().toISOString() };
    await writeStatus(targetFiles(id, layout).status, failed);
    return failed;
  }
  const recovery = await withHostLock(layout, `deploy-target recover ${id}`, async (r) => r);
  const now = new Date().toISOString();
  // Another start (`oscd recover` at boot, say) may have finished it already: its history says how.
  let outcome = recovery?.outcome;
  if (outcome === undefined) {
    // A request that is not JSON was refused before it could activate anything.
    const req = await readJsonFile<TargetRequest>(targetFiles(id, layout).request).catch(() => undefined);
    const last = (await hostStatus(layout)).lastDeployment;
    if (req && last && last.toplevel === req.toplevel && last.recovered && (last.state === "rolled-back" || last.state === "committed" || last.state === "aborted")) outcome = last.state;
  }
  const next: TargetStatus =
    outcome === "committed"
      ? { ...s, state: "committed", confirmBy: undefined, updatedAt: now }
      : {
          ...s,
          state: outcome === "rolled-back" ? "rolled-back" : "failed",
          confirmBy: undefined,
          error: { code: "interrupted", message: `the activation process ended at "${s.step ?? s.state}" before it was confirmed${outcome ? `; recovery: ${outcome}` : ""}`, exitCode: outcome === "rolled-back" ? 4 : 1 },
          updatedAt: now,
        };
  await writeStatus(targetFiles(id, layout).status, next);
  return next;
}
