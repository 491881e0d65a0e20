import { GuardError, OscdError } from "../core/errors.js";
import type { PublicKey, SecretKey } from "../nix/index.js";
import { sameContent, serializeManifest, signManifest, type Manifest, type ManifestBody } from "../manifest/index.js";

/** The newest manifest a location holds. */
export interface LocationState {
  /** The highest-sequence verified manifest (current or claimed history), if any. */
  latest?: Manifest;
  /** Key that signed `latest`. */
  signer?: PublicKey;
  /** Sequence of the current file (`<channel>.json`), which may lag a claim in progress. */
  currentSequence?: number;
  /** Highest sequence claimed in the history. */
  highestSequence: number;
}

/**
 * Where a channel's manifests live: `<channel>.json` (what agents read) and
 * `<channel>.<sequence>.json` (history; creating one claims its sequence exactly once).
 */
export interface ChannelLocation {
  readonly url: string;
  /** Reads and verifies the newest manifest; a manifest that fails verification is refused (exit 3). */
  state(trusted: readonly PublicKey[]): Promise<LocationState>;
  /** Creates `<channel>.<sequence>.json` with the complete text; false when another publish has it. */
  claim(m: Manifest, text: string): Promise<boolean>;
  /** Makes `<channel>.json` the highest claimed manifest (never moves it backwards). */
  settle(trusted: readonly PublicKey[]): Promise<void>;
  /** The text of the trust root beside the channel (`trust/root.json`), if there is one. */
  trustRoot(): Promise<string | undefined>;
}

/** A history file's name and the manifest inside disagree: a copy put there by hand or by an attacker. */
export class HistoryMismatchError extends GuardError {
  constructor(where: string, named: number, holds: number) {
    super(
      "manifest-history-mismatch",
      `${where} is named as sequence ${named} but holds sequence ${holds} (an older manifest copied over a newer name?); refusing to publish on top of it`,
      "a history file must hold the manifest of its own sequence; remove the file that does not (after checking who wrote it) and publish again",
    );
  }
}

/** The history name of a sequence as a number, or undefined for a name no manifest can have (leading zeros, beyond 2^53 - 1). */
export function historySequence(digits: string): number | undefined {
  if (!/^[1-9][0-9]{0,15}$/.test(digits)) return undefined;
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Refuses a history file whose content is another sequence than its name. */
export function checkHistoryEntry(where: string, named: number, m: Manifest): void {
  if (m.sequence !== named) throw new HistoryMismatchError(where, named, m.sequence);
}

export type Compose = (previous: Manifest | undefined, signer: PublicKey | undefined) => Omit<ManifestBody, "sequence"> | "unchanged";

export type LocationStatus = "written" | "unchanged" | "newer-kept";

export interface ChannelWrite {
  status: "written" | "unchanged";
  manifest: Manifest;
  previous?: Manifest;
  locations: { url: string; status: LocationStatus }[];
  /** Sequences another publish claimed first (races lost and retried). */
  retries: number;
}

const MAX_ATTEMPTS = 50;

/**
 * Writes the next manifest of a channel, safe against concurrent publishes: read the newest
 * manifest, compose the new one from it, claim `sequence = newest + 1` by creating its history
 * file exclusively; a loser reads again and composes again on top of the winner. Then the
 * current file is moved forward atomically. Other locations get the same signed manifest.
 */
export async function writeChannel(
  primary: ChannelLocation,
  others: readonly ChannelLocation[],
  compose: Compose,
  key: SecretKey,
  trusted: readonly PublicKey[],
): Promise<ChannelWrite> {
  let floor = 0;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const st = await primary.state(trusted);
    const body = compose(st.latest, st.signer);
    if (body === "unchanged") {
      if (!st.latest) throw new Error("compose said unchanged without a previous manifest");
      await primary.settle(trusted);
      const locations = [{ url: primary.url, status: "unchanged" as LocationStatus }, ...(await installElsewhere(others, st.latest, trusted))];
      return { status: "unchanged", manifest: st.latest, previous: st.latest, locations, retries: attempt };
    }
    const sequence = Math.max(floor, st.highestSequence, st.latest?.sequence ?? 0) + 1;
    if (!Number.isSafeInteger(sequence)) {
      throw new GuardError("channel-sequence-exhausted", `${primary.url} is at sequence ${sequence - 1}, the highest a manifest can carry`, "start a new channel (another name), or clear this channel's history and let the machines re-enrol");
    }
    const m = signManifest({ ...body, sequence }, key);
    if (!(await primary.claim(m, serializeManifest(m)))) {
      floor = sequence;
      continue;
    }
    await primary.settle(trusted);
    const locations = [{ url: primary.url, status: "written" as LocationStatus }, ...(await installElsewhere(others, m, trusted))];
    return { status: "written", manifest: m, previous: st.latest, locations, retries: attempt };
  }
  throw new OscdError("channel-contended", `could not claim a sequence on ${primary.url} after ${MAX_ATTEMPTS} attempts`, {
    hint: "too many publishes ran at once on this channel; run this one again",
  });
}

/** Copies a signed manifest to secondary locations, unless one already holds a newer one. */
async function installElsewhere(locations: readonly ChannelLocation[], m: Manifest, trusted: readonly PublicKey[]): Promise<{ url: string; status: LocationStatus }[]> {
  const out: { url: string; status: LocationStatus }[] = [];
  for (const loc of locations) {
    const st = await loc.state(trusted);
    const top = Math.max(st.highestSequence, st.latest?.sequence ?? 0);
    if (top > m.sequence) {
      out.push({ url: loc.url, status: "newer-kept" });
      continue;
    }
    if (top === m.sequence && st.latest && sameContent(st.latest, m)) {
      await loc.settle(trusted);
      out.push({ url: loc.url, status: "unchanged" });
      continue;
    }
    const claimed = await loc.claim(m, serializeManifest(m));
    await loc.settle(trusted);
    out.push({ url: loc.url, status: claimed ? "written" : "newer-kept" });
  }
  return out;
}

/** What writeChannel would write (`publish --dry-run`): nothing is signed, claimed or moved. */
export interface ChannelPlan {
  status: "would-write" | "unchanged";
  /** The sequence a real run claims now (another publish meanwhile takes it, and this one the next). */
  sequence: number;
  previous?: Manifest;
  /** The composed content (without sequence and signatures), when one would be written. */
  body?: Omit<ManifestBody, "sequence">;
}

export async function planChannel(primary: ChannelLocation, compose: Compose, trusted: readonly PublicKey[]): Promise<ChannelPlan> {
  const st = await primary.state(trusted);
  const body = compose(st.latest, st.signer);
  if (body === "unchanged") return { status: "unchanged", sequence: st.latest?.sequence ?? 0, previous: st.latest };
  return { status: "would-write", sequence: Math.max(st.highestSequence, st.latest?.sequence ?? 0) + 1, previous: st.latest, body };
}
