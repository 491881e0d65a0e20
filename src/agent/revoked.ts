import { realpath } from "node:fs/promises";
import { join } from "node:path";
import { readGenerationRecords } from "../activate/index.js";
import type { Manifest } from "../manifest/index.js";
import { listGenerations } from "../nix/index.js";
import { TrustFetchError, TrustTooLargeError, type CappedGet } from "../trust/index.js";
import type { AgentContext } from "./context.js";
import { bearerFrom } from "./endpoints.js";
import { httpFetch } from "../core/http.js";

/** Trust documents over the agent's own http client (not the global fetch: see http.ts), capped before parsing. */
export function cappedGet(timeoutMs: number, tokenFile?: string): CappedGet {
  return async (url, maxBytes) => {
    const target = new URL(url);
    const headers: Record<string, string> = { accept: "application/json" };
    // The control server's host token, read for each request as for the manifest.
    if (tokenFile !== undefined) headers.authorization = await bearerFrom(tokenFile);
    if (target.username || target.password) {
      headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString("base64")}`;
      target.username = "";
      target.password = "";
    }
    const shown = `${target.protocol}//${target.host}${target.pathname}`;
    try {
      const r = await httpFetch(target, { headers, timeoutMs, maxBytes });
      return { status: r.status, body: r.body };
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (/larger than|too large|maxBytes/i.test(message)) throw new TrustTooLargeError(shown, maxBytes);
      throw new TrustFetchError(shown, message.split("\n")[0] ?? "");
    }
  };
}

const reported = new WeakMap<AgentContext, string>();

/**
 * An agent running a revoked release says so (a refusal with code `release-revoked`, reported
 * to the server) once per revocation list version, and, where the channel's trust root entry
 * says so (`onRevoked`), moves: `newest` to the channel's newest release when it is another,
 * non-revoked system; `rollback` to the newest earlier generation that is not revoked.
 */
export async function checkRunningRelease(a: AgentContext, source: string, channel: string, verified: Manifest | undefined): Promise<void> {
  const running = await realpath(join(a.layout.runDir, "current-system")).catch(() => undefined);
  if (running === undefined) return;
  const records = [...(await readGenerationRecords(a.layout)).values()].sort((x, y) => y.generation - x.generation);
  const rec = records.find((r) => r.toplevel === running);
  const match = a.trust.findRevoked({ toplevel: running, channel: rec?.channel, sequence: rec?.sequence, commit: rec?.commit });
  if (!match) {
    reported.delete(a);
    return;
  }
  const key = `${running} ${match.channel} ${match.listVersion}`;
  if (reported.get(a) === key) return;
  reported.set(a, key);
  const policy = a.trust.policy(channel)?.onRevoked ?? "report";
  const what = `the running system ${running} is revoked (${match.what}, revocation list of channel ${match.channel} version ${match.listVersion}: ${match.entry.reason || "no reason given"})`;
  const isRevoked = (toplevel: string, r?: { channel?: string; sequence?: number; commit?: string }) => a.trust.findRevoked({ toplevel, ...r }) !== undefined;

  if (policy === "newest") {
    const entry = verified && Object.hasOwn(verified.hosts, a.host) ? verified.hosts[a.host] : undefined;
    if (verified && entry && entry.toplevel !== running && !isRevoked(entry.toplevel, { channel: verified.channel, sequence: verified.sequence, commit: verified.commit })) {
      a.emit({ type: "refused", at: a.now(), source, code: "release-revoked", message: `${what}; moving to channel ${verified.channel} sequence ${verified.sequence}` });
      a.offer(
        { source, toplevel: entry.toplevel, mode: "switch", release: { version: verified.version, commit: verified.commit, ref: verified.ref }, caches: [...verified.caches, ...a.config.substituters] },
        `the running release is revoked; the channel's newest release (sequence ${verified.sequence}) is not`,
      );
      return;
    }
    a.emit({ type: "refused", at: a.now(), source, code: "release-revoked", message: `${what}; the channel has no newer release that is not revoked yet` });
    return;
  }
  if (policy === "rollback") {
    // The newest other generation of the profile that is not revoked (oscd's record, when it
    // made it, gives its release facts; a generation from before oscd has only its toplevel).
    const gens = (await listGenerations(a.layout.profile).catch(() => [])).sort((x, y) => y.number - x.number);
    const byNumber = new Map(records.map((r) => [r.generation, r]));
    const back = gens.find((g) => g.storePath !== running && !isRevoked(g.storePath, byNumber.get(g.number)));
    if (back) {
      const r = byNumber.get(back.number);
      a.emit({ type: "refused", at: a.now(), source, code: "release-revoked", message: `${what}; rolling back to generation ${back.number}` });
      a.offer(
        { source, toplevel: back.storePath, mode: "switch", generation: back.number, release: { version: r?.version, commit: r?.commit, ref: r?.ref }, caches: [] },
        `the running release is revoked; rolling back to generation ${back.number}`,
      );
      return;
    }
    a.emit({ type: "refused", at: a.now(), source, code: "release-revoked", message: `${what}; no earlier generation that is not revoked to roll back to` });
    return;
  }
  a.emit({ type: "refused", at: a.now(), source, code: "release-revoked", message: what });
}
