import type { FSWatcher } from "node:fs";
import { lastAppliedSequence } from "../activate/index.js";
import { GuardError, isOscdError } from "../core/errors.js";
import type { Manifest } from "../manifest/index.js";
import { trustLocationBeside, trustSource, type TrustSource } from "../trust/index.js";
import type { ManifestSourceConfig } from "./config.js";
import type { AgentContext } from "./context.js";
import type { ManifestEndpoint } from "./endpoints.js";
import { checkExpiry, checkManifest } from "./guards.js";
import { ManifestSource, redact, watchFileUrls } from "./manifest-source.js";
import { cappedGet, checkRunningRelease } from "./revoked.js";
import { historyFloor, writeAgentState } from "./state.js";
import { Wake } from "./wake.js";

/**
 * The manifest channel loop: fetch (long-poll when offered, else interval + jitter, backoff on
 * errors), guard, persist the accepted sequence, offer the host's entry to the deployer. A
 * refused manifest changes nothing; the agent keeps serving status and says why it is held back.
 */
export class ManifestWatcher {
  readonly name: string;
  private readonly source: ManifestSource;
  private readonly wake = new Wake();
  private abort: AbortController | undefined;
  private stopped = false;
  private watchers: FSWatcher[] = [];
  /** The last manifest that passed every guard, to notice when it expires while nothing new comes. */
  private verified: Manifest | undefined;
  private offeredSequence = -1;
  /** Where the channel's trust documents are: configured, else `trust/` beside each manifest URL. */
  private readonly trustSources: TrustSource[];
  private trustCheckedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly agent: AgentContext,
    private readonly cfg: ManifestSourceConfig,
    endpoints: readonly ManifestEndpoint[],
  ) {
    this.name = `manifest:${cfg.channel}`;
    this.source = new ManifestSource(endpoints, { timeoutMs: cfg.timeout * 1000, longPollSeconds: cfg.longPollSeconds });
    // The trust directory beside each manifest endpoint (with its token), unless configured.
    this.trustSources =
      cfg.trustUrls.length > 0
        ? cfg.trustUrls.map((u) => trustSource(u, cappedGet(cfg.timeout * 1000)))
        : endpoints.map((e) => trustSource(trustLocationBeside(e.url), cappedGet(cfg.timeout * 1000, e.tokenFile)));
  }

  fetchNow(): void {
    this.abort?.abort();
    this.wake.fire();
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watchers) w.close();
    this.fetchNow();
  }

  async run(): Promise<void> {
    const backoff = this.agent.config.backoff;
    const random = this.agent.random;
    this.watchers = watchFileUrls(this.source.urls, () => this.wake.fire());
    let failures = 0;
    while (!this.stopped) {
      const abort = (this.abort = new AbortController());
      let delayMs: number;
      try {
        const r = await this.source.fetch(abort.signal);
        failures = 0;
        // "none": the server has no release for this host yet; not an outage, and no backoff.
        const detail = r.kind === "none" ? `waiting for a release of ${this.cfg.channel}` : undefined;
        this.agent.emit({ type: "fetched", at: this.agent.now(), source: this.name, status: r.kind, url: redact(r.url), longPoll: this.source.longPolling, detail });
        // The trust root and the revocation list: before every new manifest, else once per poll interval.
        if (r.kind === "new" || this.agent.clock().getTime() - this.trustCheckedAt >= this.cfg.pollInterval * 1000) await this.refreshTrust();
        if (r.kind === "new") await this.consider(r.text, redact(r.url));
        else this.recheckExpiry();
        delayMs = this.source.longPolling ? 0 : (this.cfg.pollInterval + random() * this.cfg.randomizedDelaySec) * 1000;
      } catch (e) {
        if (abort.signal.aborted || this.stopped) continue;
        failures++;
        delayMs = Math.min(backoff.max, backoff.initial * 2 ** (failures - 1)) * 1000 * (0.8 + 0.4 * random());
        this.agent.emit({ type: "fetch-failed", at: this.agent.now(), source: this.name, code: isOscdError(e) ? e.code : "internal", message: oneLine(e), retryInSeconds: Math.round(delayMs / 1000) });
      }
      await this.wake.wait(delayMs);
    }
  }

  private async consider(text: string, where: string): Promise<void> {
    const a = this.agent;
    const channel = this.cfg.channel;
    const recorded = a.state.manifest[channel];
    // Three records, any one enough to refuse a replay: the agent's state, the engine's
    // channels.json (written at commit) and the sequences in the engine's journals.
    // Only records of the channel's current sequence epoch hold it: after a release key is
    // removed, a huge sequence that key signed no longer locks the channel (fast-forward).
    const epoch = a.trust.epoch(channel);
    const mine = recorded && recorded.epoch === epoch ? recorded : undefined;
    const floor = Math.max(mine?.sequence ?? 0, (await lastAppliedSequence(a.layout, channel, epoch)) ?? 0, await historyFloor(a.layout, channel, epoch));
    let verdict;
    try {
      verdict = checkManifest(text, where, {
        trust: a.trust,
        channel,
        host: a.host,
        floor,
        accepted: mine && mine.sequence === floor ? { commit: mine.commit, toplevel: mine.toplevel } : undefined,
        now: a.clock(),
        skewMs: this.cfg.maxClockSkewSeconds * 1000,
        allowNoExpiry: this.cfg.allowNoExpiry,
      });
    } catch (e) {
      if (!(e instanceof GuardError)) throw e;
      a.emit({ type: "refused", at: a.now(), source: this.name, code: e.code, message: e.message });
      return;
    }
    const m = verdict.manifest;
    this.verified = m;
    a.emit({ type: "verified", at: a.now(), source: this.name, detail: `channel ${channel} sequence ${m.sequence} signed by ${verdict.kind === "newer" ? verdict.signer : "a trusted key"}` });
    const entry = m.hosts[a.host];
    if (verdict.kind === "same" && (this.offeredSequence === m.sequence || !entry)) return;
    if (verdict.kind === "newer") {
      // Accepted before activation: a crash or a failed switch must not reopen a replay.
      a.state.manifest[channel] = { sequence: m.sequence, commit: m.commit, toplevel: verdict.toplevel, at: a.now(), ...(verdict.epoch !== undefined ? { epoch: verdict.epoch } : {}) };
      await writeAgentState(a.config.stateDir, a.state);
    }
    this.offeredSequence = m.sequence;
    a.offer(
      {
        source: this.name,
        toplevel: (entry as { toplevel: string }).toplevel,
        mode: this.cfg.operation,
        release: { version: m.version, commit: m.commit, ref: m.ref, channel, sequence: m.sequence, ...(verdict.epoch !== undefined ? { epoch: verdict.epoch } : {}) },
        caches: [...m.caches, ...a.config.substituters],
      },
      verdict.kind === "newer" ? `channel ${channel} sequence ${m.sequence} (after ${floor || "none"})` : `channel ${channel} sequence ${m.sequence}, read again after a restart`,
    );
  }

  /**
   * Walks newer trust roots and takes a newer revocation list from the first trust location
   * that answers. A refusal (a broken chain, a rollback, a list below threshold) is reported
   * and the machine keeps the trust it has; an unreachable location is passed over.
   */
  private async refreshTrust(): Promise<void> {
    const a = this.agent;
    this.trustCheckedAt = a.clock().getTime();
    for (const src of this.trustSources) {
      try {
        const u = await a.trust.update(src, { channel: this.cfg.channel });
        if (u.walked.length > 0 || u.revocations !== undefined || u.offeredOlder !== undefined) {
          const parts = [
            ...(u.walked.length > 0 ? [`trust root version ${u.from} → ${u.to} (walked ${u.walked.join(", ")})`] : []),
            ...(u.revocations !== undefined ? [`revocation list of channel ${this.cfg.channel} version ${u.revocations}`] : []),
            ...(u.offeredOlder !== undefined ? [`trust root version ${u.offeredOlder} offered and not taken (this machine has ${u.to})`] : []),
          ];
          a.emit({ type: "trust", at: a.now(), source: this.name, version: u.to, walked: u.walked, revocations: u.revocations, detail: parts.join("; ") });
        }
        await checkRunningRelease(a, this.name, this.cfg.channel, this.verified);
        return;
      } catch (e) {
        if (e instanceof GuardError) {
          a.emit({ type: "refused", at: a.now(), source: this.name, code: e.code, message: e.message });
          return;
        }
        // Unreachable or unreadable: the next location, or the next round.
      }
    }
  }

  /** Nothing new arrived: the manifest in force may have expired meanwhile (a stopped CI). */
  private recheckExpiry(): void {
    if (!this.verified) return;
    try {
      const now = this.agent.clock();
      this.agent.trust.assertFresh(now);
      checkExpiry(this.verified, "the current manifest", now, this.cfg.maxClockSkewSeconds * 1000, this.cfg.allowNoExpiry);
    } catch (e) {
      if (!(e instanceof GuardError)) throw e;
      const held = this.agent.status.heldBack;
      if (held?.code !== e.code || held.source !== this.name) this.agent.emit({ type: "refused", at: this.agent.now(), source: this.name, code: e.code, message: e.message });
    }
  }
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";
}
