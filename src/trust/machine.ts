import { readFile } from "node:fs/promises";
import { GuardError, OscdError } from "../core/errors.js";
import { canonicalJson, MAX_SIGNATURES, verifyManifest, ManifestSignatureError, type Manifest } from "../manifest/light.js";
import { parsePublicKey, type PublicKey } from "../nix/light.js";
import { implicitRoot } from "./implicit.js";
import { channelPolicy, MAX_REVOCATIONS_BYTES, MAX_TRUST_BYTES, oneLine } from "./format.js";
import { findRevoked, ReleaseRevokedError, stillValid, type ReleaseRef, type RevokedMatch } from "./revocation.js";
import { checkTrustFreshness, TrustRootError, verifySelfSigned } from "./rotation.js";
import type { ChannelPolicy, Revocations, TrustRoot } from "./schema.js";
import type { TrustSource } from "./source.js";
import { readStoredRevocations, readStoredRoot, writeStoredRevocations, writeStoredRoot } from "./store.js";
import { countSignatures, names, signingBytes } from "./threshold.js";

/** Where a machine's trust starts and where it is kept. */
export interface TrustAnchor {
  /** The engine's state directory (`/var/lib/oscd`); the trust state lives in its `trust/`. */
  stateDir: string;
  /** The keys the machine is configured with: its implicit root until it has a real one. */
  trustedPublicKeys: readonly string[];
  /**
   * A trust root file the operator installed (machine.toml / agent `trustRoot`): the starting
   * point when nothing is persisted yet. Never used to replace a persisted root: a file
   * delivered by a release would otherwise let a release key stand in for the root keys.
   */
  bootstrap?: string;
}

/** Versions one update may walk: far more than any fleet rotates, few enough to bound the work. */
export const MAX_WALK = 1000;

export interface TrustUpdate {
  from: number;
  to: number;
  /** Versions verified and persisted, in order. */
  walked: number[];
  /** The source offered an older version than the machine has (kept: a rollback is never taken). */
  offeredOlder?: number;
  /** The revocation list version now held for the channel, when a newer one was taken. */
  revocations?: number;
}

export interface ManifestTrust {
  signers: PublicKey[];
  policy: ChannelPolicy;
  /** The channel's sequence epoch in force (records from other epochs do not hold the channel). */
  epoch?: string;
}

/**
 * A machine's trust state: the trust root in force (persisted, bootstrapped or implicit), the
 * revocation lists it holds, and the checks made with them. One instance per check or loop;
 * `update` walks newer roots from a source and persists each step.
 */
export class MachineTrust {
  private constructor(
    /** Undefined: nothing is persisted (a trust root held in memory: the server, `oscd manifest verify`). */
    readonly stateDir: string | undefined,
    private current: TrustRoot,
    private isImplicit: boolean,
    private lists: Map<string, Revocations>,
  ) {}

  static async load(a: TrustAnchor): Promise<MachineTrust> {
    const stored = await readStoredRoot(a.stateDir);
    let root: TrustRoot;
    let implicit = false;
    if (stored) root = stored.root;
    else if (a.bootstrap) {
      let text: string;
      try {
        text = await readFile(a.bootstrap, "utf8");
      } catch (e) {
        throw new OscdError("trust-bootstrap", `cannot read the trust root ${a.bootstrap}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { hint: "install the fleet's first trust root there (oscd trust init writes it), or remove trustRoot from the configuration", exitCode: 2 });
      }
      if (text.length > MAX_TRUST_BYTES) throw new GuardError("trust-format", `${a.bootstrap} is larger than any trust root`, "install the trust root written by oscd trust init");
      root = (await import("./schema.js")).parseTrustRoot(text, a.bootstrap);
      verifySelfSigned(root, a.bootstrap);
      await writeStoredRoot(a.stateDir, text);
    } else {
      root = implicitRoot(a.trustedPublicKeys);
      implicit = true;
    }
    const lists = new Map<string, Revocations>();
    for (const l of await readStoredRevocations(a.stateDir)) lists.set(l.channel, l);
    const t = new MachineTrust(a.stateDir, root, implicit, lists);
    return t;
  }

  /**
   * Trust held in memory: a trust root (or the implicit root of some keys) and revocation lists
   * the caller verified; `update` walks but persists nothing.
   */
  static of(root: TrustRoot | { keys: readonly string[] }, revocations: readonly Revocations[] = []): MachineTrust {
    const implicit = "keys" in root && !("schema" in root);
    const r = implicit ? implicitRoot((root as { keys: readonly string[] }).keys) : (root as TrustRoot);
    return new MachineTrust(undefined, r, implicit, new Map(revocations.map((l) => [l.channel, l])));
  }

  get root(): TrustRoot {
    return this.current;
  }

  /** True until the machine has a real trust root: it then trusts its configured keys as before. */
  get implicit(): boolean {
    return this.isImplicit;
  }

  get version(): number {
    return this.current.version;
  }

  /** The keys store paths must be signed by: the trust root's cache keys, or the configured ones before it has one. */
  cacheKeys(configured: readonly string[]): string[] {
    return this.isImplicit ? [...configured] : [...this.current.cacheKeys];
  }

  policy(channel: string): ChannelPolicy | undefined {
    return channelPolicy(this.current, channel);
  }

  /** The channel's sequence epoch (undefined: none, as before any key was removed). */
  epoch(channel: string): string | undefined {
    return this.policy(channel)?.sequenceEpoch;
  }

  /** Which lists still count, worked out once per root version and set of lists (each check verifies signatures). */
  private valid: { root: TrustRoot; lists: Map<string, Revocations> } | undefined;

  /** Revocation lists that still count under the root in force (a list by retired keys no longer does). */
  revocations(): Revocations[] {
    if (this.valid?.root !== this.current) {
      this.valid = { root: this.current, lists: new Map([...this.lists].filter(([, l]) => stillValid(this.current, l))) };
    }
    return [...this.valid.lists.values()];
  }

  revocationsOf(channel: string): Revocations | undefined {
    return this.revocations().find((l) => l.channel === channel);
  }

  findRevoked(r: ReleaseRef): RevokedMatch | undefined {
    return findRevoked(this.revocations(), r);
  }

  /** Refuses (exit 3, `release-revoked`) a release a revocation list names. */
  assertNotRevoked(r: ReleaseRef, subject: string): void {
    const m = this.findRevoked(r);
    if (m) throw new ReleaseRevokedError(m, subject);
  }

  /** The trust root in force must not have expired (freeze); `now` is the one time of the caller's check. */
  assertFresh(now: Date): void {
    if (!this.isImplicit) checkTrustFreshness(this.current, now);
  }

  /**
   * Checks a parsed manifest's signatures against the channel's release keys and threshold,
   * each key counted once, a key's `rejectBefore` applied to the manifest's `signedAt` (or
   * `createdAt` when it has none); and the trust root must be fresh. One `now` for the whole
   * check. Refusals: `manifest-untrusted` (no key of the channel signed it), `manifest-threshold`
   * (some did, too few), `manifest-before-epoch`, `trust-expired`.
   */
  verifyManifest(m: Manifest, where: string, now: Date, opts: { ignoreTrustExpiry?: boolean } = {}): ManifestTrust {
    if (!opts.ignoreTrustExpiry) this.assertFresh(now);
    const w = oneLine(where);
    const policy = this.policy(m.channel);
    if (!policy) throw new ManifestSignatureError(w, `trust root version ${this.version} names no release keys for channel ${m.channel}`);
    if (m.signatures.length > MAX_SIGNATURES) throw new ManifestSignatureError(w, `it carries ${m.signatures.length} signatures; at most ${MAX_SIGNATURES} are checked`);
    const c = countSignatures(signingBytes(m), m.signatures, policy.keys, policy.threshold, m.signedAt ?? m.createdAt, MAX_SIGNATURES);
    if (c.counted.length === 0) {
      if (c.rejected.length > 0) {
        throw new ManifestSignatureError(w, `the signature by ${names(c.rejected.map((r) => r.key))} does not count: signed at ${m.signedAt ?? m.createdAt}, before the key's rejectBefore (${c.rejected.map((r) => r.rejectBefore).join(", ")})`);
      }
      // The familiar messages (edited content, unknown signer, no signatures).
      verifyManifest(m, policy.keys.map((k) => parsePublicKey(k.key)), w);
      throw new ManifestSignatureError(w, "no signature by a release key of the channel matches");
    }
    if (!c.met) {
      const rejected = c.rejected.length > 0 ? `; not counted (signed before their rejectBefore): ${names(c.rejected.map((r) => r.key))}` : "";
      throw new GuardError(
        "manifest-threshold",
        `${w} (channel ${m.channel}, sequence ${m.sequence}) has ${c.counted.length} of the ${policy.threshold} release signatures the channel needs (signed by ${names(c.counted)}${rejected})`,
        "it waits for approval: another release key holder adds a signature with `oscd manifest sign FILE --sign-key KEY` (trust root version " + String(this.version) + " lists the channel's keys)",
      );
    }
    if (policy.sequenceEpoch !== undefined && Date.parse(m.createdAt) < Date.parse(policy.sequenceEpoch)) {
      throw new GuardError(
        "manifest-before-epoch",
        `${w} (channel ${m.channel}, sequence ${m.sequence}) was created at ${m.createdAt}, before the channel's key rotation at ${policy.sequenceEpoch}; anything from before it is refused`,
        "publish again after the rotation (`oscd publish --refresh` re-signs the current release with the new keys)",
      );
    }
    return { signers: c.counted, policy, epoch: policy.sequenceEpoch };
  }

  /**
   * Walks newer trust roots from `src` (`root.json` says how far; `<N>.root.json` each step),
   * persisting every verified version, then takes a newer revocation list of `channel`. A
   * source without a trust root leaves the machine as it is.
   */
  async update(src: TrustSource, opts: { channel?: string } = {}): Promise<TrustUpdate> {
    // Documents arrive: their schemas and checks are loaded now (a machine's start without an
    // update, as `oscd activate` with nothing to do, builds none).
    const { parseTrustRoot, verifyRevocations, verifyRootUpdate } = await import("./incoming.js");
    const from = this.version;
    const out: TrustUpdate = { from, to: from, walked: [] };
    const latestText = await src.get("root.json", MAX_TRUST_BYTES);
    if (latestText !== undefined) {
      const latest = parseTrustRoot(latestText, src.describe("root.json"));
      if (latest.version < this.version) out.offeredOlder = latest.version;
      else if (latest.version === this.version && !this.isImplicit) {
        if (canonicalJson({ ...latest, signatures: [] }) !== canonicalJson({ ...this.current, signatures: [] })) {
          throw new TrustRootError("trust-rollback", `${src.describe("root.json")}: two different trust roots carry version ${latest.version}`, "a trust root version is signed once; check who wrote this one");
        }
      } else if (latest.version > this.version) {
        if (latest.version - this.version > MAX_WALK) {
          throw new TrustRootError("trust-version-skip", `${src.describe("root.json")} is version ${latest.version}, more than ${MAX_WALK} versions after ${this.version}`, "walk the versions in steps with `oscd trust update`, or install a recent trust root by hand");
        }
        for (let v = this.version + 1; v <= latest.version; v++) {
          const name = `${v}.root.json`;
          const text = (await src.get(name, MAX_TRUST_BYTES)) ?? (v === latest.version ? latestText : undefined);
          if (text === undefined) throw new TrustRootError("trust-root-missing", `${src.describe(name)} is missing: version ${v} is needed to walk from ${this.version} to ${latest.version}`, "publish every trust root version beside the manifests (oscd trust publish)");
          const u = verifyRootUpdate(this.current, text, src.describe(name));
          if (this.stateDir !== undefined) await writeStoredRoot(this.stateDir, text);
          this.current = u.root;
          this.isImplicit = false;
          out.walked.push(v);
        }
      }
    }
    if (opts.channel !== undefined) {
      const name = `${opts.channel}.revocations.json`;
      const text = await src.get(name, MAX_REVOCATIONS_BYTES);
      if (text !== undefined) {
        const v = verifyRevocations(this.current, text, opts.channel, src.describe(name), this.revocationsOf(opts.channel));
        if (v !== "same") {
          if (this.stateDir !== undefined) await writeStoredRevocations(this.stateDir, opts.channel, text);
          this.lists.set(opts.channel, v.list);
          this.valid = undefined;
          out.revocations = v.list.version;
        }
      }
    }
    out.to = this.version;
    return out;
  }
}
