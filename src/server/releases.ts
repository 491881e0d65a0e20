import { createHash } from "node:crypto";
import type { Kysely } from "kysely";
import { GuardError } from "../core/errors.js";
import { BodyTooLargeError, fetchCapped, type CappedResponse } from "../core/fetch-capped.js";
import { checkFreshness, checkSequence, DEFAULT_SKEW_MS, parseManifest, sameContent, verifyManifest, viewHost, type Manifest } from "../manifest/index.js";
import type { PublicKey } from "../nix/index.js";
import type { Database, ReleaseTable } from "./db/schema.js";
import type { Recorder } from "./recorder.js";
import { HttpError } from "./errors.js";
import { loadServerTrust } from "./trust.js";

/**
 * A signed manifest becomes a release of its channel here, and only after it has been checked
 * exactly as an agent would check it: strict parsing, a signature by a key the fleet trusts,
 * a sequence above every release the channel already has, not expired. The bytes are stored
 * as they came: the server never writes or changes manifest content, it only chooses which
 * already-signed manifest each host is served (rollouts), so a compromised server can delay a
 * release but not forge, replay or downgrade one.
 */
export interface AddedRelease {
  channel: string;
  sequence: number;
  version: string;
  signer: string;
  /** False when the very same manifest was already a release (an upload retried). */
  created: boolean;
  /** `complete` when served to every host at once (immediate, or a refresh of what they run). */
  state?: "pending" | "complete";
  /** Host views stored with it (new ones: an upload retried with views adds them). */
  views: number;
}

export function etagOf(body: string): string {
  return `"${createHash("sha256").update(body).digest("hex").slice(0, 32)}"`;
}

/** Turns the manifest module's refusals into HTTP answers (422 untrusted/format, 409 sequence). */
function refusal(e: unknown): never {
  if (e instanceof GuardError) {
    const status = e.code === "manifest-sequence" ? 409 : 422;
    throw new HttpError(status, e.code, e.message, e.hint);
  }
  throw e;
}

/**
 * Host views (src/manifest/host-view.ts) checked as an agent checks a manifest, and each
 * against the release: exactly it, cut down to one of its hosts, at most one per host. Each is
 * verified by the very check the release passed (`verify`: a trusted key, or the trust root's
 * threshold). Any one that fails refuses the whole upload (nothing is stored).
 */
async function checkViews(release: Manifest, texts: readonly string[], verify: (m: Manifest, where: string) => void): Promise<{ host: string; etag: string; body: string }[]> {
  const seen = new Set<string>();
  const out: { host: string; etag: string; body: string }[] = [];
  for (const [i, text] of texts.entries()) {
    // 10,000 views take a few seconds to check: other requests are served in between.
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    out.push(checkView(release, text, i, seen, verify));
  }
  return out;
}

function checkView(release: Manifest, text: string, i: number, seen: Set<string>, verify: (m: Manifest, where: string) => void): { host: string; etag: string; body: string } {
  const where = `host view ${i + 1}`;
  let view: Manifest;
  try {
    view = parseManifest(text, where);
    verify(view, where);
  } catch (e) {
    refusal(e);
  }
  const host = viewHost(view, release);
  if (host === undefined) throw new HttpError(422, "bad-host-view", `${where} is not release ${release.channel} #${release.sequence} cut down to one of its hosts`, "upload the views publish signed with this manifest (oscd publish --server)");
  if (seen.has(host)) throw new HttpError(422, "bad-host-view", `two host views for ${host}`, "upload one view per host");
  seen.add(host);
  return { host, etag: etagOf(text), body: text };
}

export async function addRelease(db: Kysely<Database>, text: string, trusted: readonly PublicKey[], opts: { now?: Date; immediate?: boolean; trustDir?: string; record?: (r: AddedRelease) => Recorder; views?: readonly string[] } = {}): Promise<AddedRelease> {
  const now = opts.now ?? new Date();
  let manifest: Manifest;
  let signer: { name: string };
  // With a trust directory, the release is checked as machines check it: the channel's release
  // threshold (accepted only at threshold; `signer` records every key that counted) and the
  // revocation lists. Without one, a signature by a trusted key, as before.
  const trust = opts.trustDir !== undefined ? await loadServerTrust(opts.trustDir) : undefined;
  try {
    manifest = parseManifest(text, "the uploaded manifest");
    if (trust) {
      signer = { name: trust.verifyManifest(manifest, "the uploaded manifest", now).signers.map((k) => k.name).join(", ") };
      const revoked = Object.entries(manifest.hosts).find(([, e]) => trust.findRevoked({ channel: manifest.channel, sequence: manifest.sequence, commit: manifest.commit, toplevel: e.toplevel }));
      if (revoked) trust.assertNotRevoked({ channel: manifest.channel, sequence: manifest.sequence, commit: manifest.commit, toplevel: revoked[1].toplevel }, `the uploaded manifest's entry for ${revoked[0]}`);
    } else signer = verifyManifest(manifest, trusted, "the uploaded manifest");
    checkFreshness(manifest, { now, skewMs: DEFAULT_SKEW_MS });
  } catch (e) {
    refusal(e);
  }
  const views = await checkViews(manifest, opts.views ?? [], (view, where) => {
    if (trust) {
      trust.verifyManifest(view, where, now);
      // The view's one entry is the release's, already checked against the revocation lists.
    } else verifyManifest(view, trusted, where);
  });
  const storeViews = async (trx: Kysely<Database>): Promise<number> => {
    let added = 0;
    for (let i = 0; i < views.length; i += 200) {
      const r = await trx
        .insertInto("release_views")
        .values(views.slice(i, i + 200).map((v) => ({ channel: manifest.channel, sequence: manifest.sequence, ...v })))
        .onConflict((oc) => oc.columns(["channel", "sequence", "host"]).doNothing())
        .executeTakeFirst();
      added += Number(r.numInsertedOrUpdatedRows ?? 0n);
    }
    return added;
  };
  return db.transaction().execute(async (trx) => {
    const latest = await trx.selectFrom("releases").select("body").where("channel", "=", manifest.channel).orderBy("sequence", "desc").limit(1).executeTakeFirst();
    let same = false;
    try {
      same = checkSequence(latest ? parseManifest(latest.body) : undefined, manifest) === "same";
    } catch (e) {
      refusal(e);
    }
    const result = { channel: manifest.channel, sequence: manifest.sequence, version: manifest.version, signer: signer.name };
    if (same) return { ...result, created: false, views: await storeViews(trx) };
    // A refresh (`oscd publish --refresh`: the same systems re-signed with a later expiry) moves
    // nobody anywhere, so it needs no rollout: served at once, or hosts would be held on the
    // expiring one until an operator rolled out a change that changes nothing.
    const base = await trx.selectFrom("releases").select("body").where("channel", "=", manifest.channel).where("state", "=", "complete").orderBy("sequence", "desc").limit(1).executeTakeFirst();
    const refresh = base !== undefined && sameContent(parseManifest(base.body), manifest);
    const row: ReleaseTable = {
      channel: manifest.channel,
      sequence: manifest.sequence,
      version: manifest.version,
      commit: manifest.commit,
      body: text,
      etag: etagOf(text),
      signer: result.signer,
      state: opts.immediate || refresh ? "complete" : "pending",
      created_at: now.getTime(),
      expires_at: manifest.expiresAt ? Date.parse(manifest.expiresAt) : null,
    };
    await trx.insertInto("releases").values(row).execute();
    const added: AddedRelease = { ...result, created: true, state: row.state, views: await storeViews(trx) };
    await opts.record?.(added)(trx);
    return added;
  });
}

/** Releasing at once (no rollout): every host not pinned by an assignment gets it. */
export async function completeRelease(db: Kysely<Database>, channel: string, sequence: number, record?: Recorder): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const r = await trx.updateTable("releases").set({ state: "complete" }).where("channel", "=", channel).where("sequence", "=", sequence).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new HttpError(404, "not-found", `release ${channel} #${sequence} not found`);
    await record?.(trx);
  });
}

export type ReleaseSummary = Omit<ReleaseTable, "body">;

export async function listReleases(db: Kysely<Database>, channel?: string): Promise<ReleaseSummary[]> {
  let q = db.selectFrom("releases").select(["channel", "sequence", "version", "commit", "etag", "signer", "state", "created_at", "expires_at"]);
  if (channel) q = q.where("channel", "=", channel);
  return q.orderBy("channel").orderBy("sequence", "desc").limit(500).execute();
}

export async function getRelease(db: Kysely<Database>, channel: string, sequence: number): Promise<ReleaseTable> {
  const r = await db.selectFrom("releases").selectAll().where("channel", "=", channel).where("sequence", "=", sequence).executeTakeFirst();
  if (!r) throw new HttpError(404, "not-found", `release ${channel} #${sequence} not found`);
  return r;
}

/**
 * Hosts a release names (the universe a rollout of it moves through). The body is one this
 * server stored after checking it (addRelease), so a plain parse is enough: the strict parser
 * and schema over a 10,000-host manifest were half of what starting a rollout cost.
 */
export function releaseHosts(body: string): string[] {
  const hosts: unknown = (JSON.parse(body) as { hosts?: unknown }).hosts;
  if (typeof hosts !== "object" || hosts === null || Array.isArray(hosts)) throw new Error("a stored release has no hosts object");
  return Object.keys(hosts).sort();
}

/** Reads a manifest from a cache (file path or http(s) URL) for `POST /api/v1/releases/import`. */
export async function readFromCache(url: string, maxBytes: number): Promise<string> {
  if (!/^https?:\/\//.test(url)) throw new HttpError(400, "bad-url", "a cache manifest URL is http:// or https://");
  let res: CappedResponse;
  try {
    res = await fetchCapped(url, { signal: AbortSignal.timeout(30_000), redirect: "error", maxBytes });
  } catch (e) {
    if (e instanceof BodyTooLargeError) throw new HttpError(413, "too-large", `the manifest at ${url} is larger than ${maxBytes} bytes`);
    throw new HttpError(502, "cache-unreachable", `cannot fetch ${url}: ${(e as { cause?: { code?: string } }).cause?.code ?? String((e as Error).message)}`);
  }
  if (res.status !== 200) throw new HttpError(502, "cache-unreachable", `${url} answered ${res.status}`);
  return res.text;
}
