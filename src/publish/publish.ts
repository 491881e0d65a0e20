import { UsageError, type OscdError } from "../core/errors.js";
import { buildHosts, buildTargets, type BuildOptions, type BuildProgress, type ExtraBuild, type HostBuild, type PinnedFleet } from "../builder/index.js";
import type { NixCallOptions } from "../nix/index.js";
import { preflightCache, uploadClosures, type CacheUpload, type UploadEvent } from "./caches.js";
import { writeChannel, type Compose, type LocationStatus } from "./channel.js";
import { checkChannelTrust, prepareChannel, type ChannelOptions } from "./setup.js";
import { redactUrl } from "./store-url.js";
import { DEFAULT_VALIDITY_MS, expiryFrom, needsRefresh } from "./validity.js";
import { HOST_NAME, MANIFEST_SCHEMA, MAX_NAME_LENGTH, sameContent, signHostViews, type HostEntry, type ImageEntry, type Manifest, type ManifestBody, type NetbootEntry } from "../manifest/index.js";
import { planOf, type ChannelConfig } from "../fleet/index.js";
import type { RolloutPlan } from "../plan/index.js";

export interface PublishOptions extends ChannelOptions, Pick<BuildOptions, "builders" | "maxJobs" | "rootDir" | "buildTimeoutMs" | "selection"> {
  /** How long the manifest may be acted on (its `expiresAt`); default 7 days. */
  validForMs?: number;
  onProgress?: (p: PublishProgress) => void;
  nix?: NixCallOptions;
  now?: () => Date;
  /** More to evaluate and build with each host (images; src/image), once the fleet is pinned. */
  extraFor?: (pinned: PinnedFleet) => ExtraBuild;
  /** Per built host: image and netboot entries for its manifest entry, and their store paths to upload. */
  entryExtras?: (h: HostBuild) => Promise<HostExtras | undefined>;
}

/** What src/image adds to a host's entry; `paths` are uploaded with the host's closure. */
export interface HostExtras {
  images?: Record<string, ImageEntry>;
  netboot?: NetbootEntry;
  paths: string[];
}

/**
 * A host's new entry: its toplevel, plus the images and netboot entries that were built from
 * that same toplevel (the previous manifest's, then this run's). An image of another toplevel
 * is dropped: it would boot a system the channel no longer names.
 */
export function hostEntryWith(h: { toplevel: string; system: string }, before: HostEntry | undefined, extras: HostExtras | undefined): HostEntry {
  const images: Record<string, ImageEntry> = {};
  for (const [format, img] of Object.entries(before?.images ?? {})) if (img.toplevel === h.toplevel) images[format] = img;
  for (const [format, img] of Object.entries(extras?.images ?? {})) images[format] = img;
  const netboot = extras?.netboot ?? (before?.netboot?.toplevel === h.toplevel ? before.netboot : undefined);
  return { toplevel: h.toplevel, system: h.system, ...(Object.keys(images).length > 0 ? { images } : {}), ...(netboot ? { netboot } : {}) };
}

export type PublishProgress =
  | { step: "pin"; state: "done"; commit: string; ref: string; version?: string; uncommittedChanges: boolean }
  | BuildProgress
  | ({ step: "upload" } & UploadEvent)
  | { step: "manifest"; state: LocationStatus; url: string; sequence: number };

/** How a host's manifest entry compares with the previous manifest. */
export type EntryChange = "new" | "changed" | "unchanged" | "kept-previous" | "absent";

export interface PublishedHost {
  name: string;
  system: string;
  build: HostBuild["status"];
  failedStep?: HostBuild["failedStep"];
  toplevel?: string;
  closureSize?: number;
  timeMs: number;
  error?: OscdError;
  entry: EntryChange;
  uploadedPaths: number;
  uploadedBytes: number;
}

export interface PublishReport {
  channel: string;
  commit: string;
  ref: string;
  version: string;
  /** `written`: a new sequence; `unchanged`: the channel already says this; `not-written`: no host could be published. */
  status: "written" | "unchanged" | "not-written";
  sequence?: number;
  previousSequence?: number;
  manifest?: Manifest;
  /** Each host's signed view of `manifest` (with `hostViews`), for a control server. */
  views?: Manifest[];
  locations: { url: string; status: LocationStatus }[];
  caches: CacheUpload[];
  hosts: PublishedHost[];
  /** Hosts not selected this time whose entries were carried over. */
  carriedOver: string[];
  /** Hosts in the previous manifest that are no longer in the fleet. */
  removed: string[];
  failed: string[];
  warnings: string[];
  retries: number;
  /** The channel's release threshold (from the trust root beside it) and the signatures the manifest has. */
  approval?: { have: number; need: number };
  /** The channel's `[channels.<name>.rollout]` at the published commit, for a control server. */
  rollout?: RolloutPlan;
}

/** Every host that may get a manifest entry has a name the manifest can hold: checked before anything is built. */
function checkHostNames(names: readonly string[]): void {
  const bad = names.filter((n) => n.length > MAX_NAME_LENGTH || !HOST_NAME.test(n));
  if (bad.length === 0) return;
  throw new UsageError(
    `the fleet has host name(s) a manifest cannot hold: ${bad.slice(0, 5).map((n) => JSON.stringify(n)).join(", ")}${bad.length > 5 ? ", …" : ""}`,
    `host names have up to ${MAX_NAME_LENGTH} letters, digits, '-' and '_' (no dots), starting with a letter or digit; rename the host, or leave it out with --on`,
    "bad-host-name",
  );
}

/**
 * Central build → binary cache → signed manifest: pins the source, builds the selected hosts,
 * signs and uploads what each cache lacks, and writes the channel's next signed manifest.
 * Hosts that fail keep their previous entry; hosts not selected are carried over.
 */
export async function publish(opts: PublishOptions = {}): Promise<PublishReport> {
  const nix = opts.nix ?? {};
  const warnings: string[] = [];
  const prepared = await prepareChannel(opts, warnings, (p) =>
    opts.onProgress?.({ step: "pin", state: "done", commit: p.source.commit, ref: p.source.ref, version: p.source.version, uncommittedChanges: p.uncommittedChanges }),
  );
  const { key, pinned, channel, trusted, caches, locations, primary, others } = prepared;
  const { source } = pinned;
  const validForMs = opts.validForMs ?? DEFAULT_VALIDITY_MS;

  // Fail before building: caches reachable, previous manifests intact and trusted.
  await Promise.all(caches.map((c) => preflightCache(c, nix)));
  const trust = await checkChannelTrust(prepared, opts.requireApproval === true);
  for (const loc of locations) {
    const st = await loc.state(trusted);
    if (st.currentSequence !== undefined && st.currentSequence < st.highestSequence) {
      warnings.push(`${loc.url} is at sequence ${st.currentSequence} but sequence ${st.highestSequence} was published (rolled back by hand, or a publish is under way); continuing from ${st.highestSequence}`);
    }
  }

  const targets = await buildTargets(pinned, opts.selection, nix);
  checkHostNames(targets.selected.map((h) => h.name));
  const build = await buildHosts(pinned, { ...opts, nix, onProgress: opts.onProgress, extra: opts.extraFor?.(pinned) }, targets);
  const good = build.hosts.filter((h) => (h.status === "built" || h.status === "present") && h.toplevel);
  const extras = new Map<string, HostExtras>();
  if (opts.entryExtras) for (const h of good) {
    const x = await opts.entryExtras(h);
    if (x) extras.set(h.name, x);
  }
  const closuresToUpload = [
    ...good.map((h) => ({ host: h.name, toplevel: h.toplevel as string })),
    ...[...extras].flatMap(([host, x]) => x.paths.map((p, i) => ({ host: `${host}.extra-${i}`, toplevel: p }))),
  ];
  const uploads: CacheUpload[] = [];
  if (good.length > 0) {
    for (const url of caches) {
      uploads.push(await uploadClosures(url, closuresToUpload, key, { nix, onEvent: (e) => opts.onProgress?.({ step: "upload", ...e }) }));
    }
  }

  const fleetNames = new Set(targets.all.map((h) => h.name));
  const selected = new Set(targets.selected.map((h) => h.name));
  const version = source.version ?? source.tag ?? source.commit.slice(0, 12);
  const now = (opts.now ?? (() => new Date()))();
  const createdAt = now.toISOString();
  const expiresAt = expiryFrom(now, validForMs);
  const compose: Compose = (prev, signer) => {
    const hosts: Record<string, HostEntry> = {};
    for (const [name, entry] of Object.entries(prev?.hosts ?? {})) if (fleetNames.has(name)) hosts[name] = entry;
    for (const h of good) hosts[h.name] = hostEntryWith({ toplevel: h.toplevel as string, system: h.system }, prev?.hosts[h.name], extras.get(h.name));
    const body: Omit<ManifestBody, "sequence"> = { schema: MANIFEST_SCHEMA, channel, version, commit: source.commit, ref: source.ref, createdAt, expiresAt, signedAt: createdAt, hosts, caches: caches.map(redactUrl) };
    // The same content is written again only to extend an expiry that is half gone (or absent).
    if (prev && signer?.key.equals(key.public.key) && sameContent(prev, { ...body, sequence: prev.sequence }) && !needsRefresh(prev, now, validForMs)) return "unchanged";
    return body;
  };

  const report: PublishReport = {
    channel,
    commit: source.commit,
    ref: source.ref,
    version,
    status: "not-written",
    locations: [],
    caches: uploads,
    hosts: [],
    carriedOver: [],
    removed: [],
    failed: build.hosts.filter((h) => h.status === "failed").map((h) => h.name),
    warnings,
    retries: 0,
    rollout: rolloutOf(pinned.fleet.config.channels[channel]),
  };
  let previous: Manifest | undefined;
  if (good.length > 0) {
    const w = await writeChannel(primary, others, compose, key.secret, trusted);
    previous = w.previous;
    Object.assign(report, { status: w.status, sequence: w.manifest.sequence, previousSequence: w.previous?.sequence, manifest: w.manifest, locations: w.locations, retries: w.retries });
    for (const l of w.locations) opts.onProgress?.({ step: "manifest", state: l.status, url: l.url, sequence: w.manifest.sequence });
    report.carriedOver = Object.keys(w.manifest.hosts).filter((n) => !selected.has(n)).sort();
    if (trust) report.approval = { have: w.status === "written" ? 1 : w.manifest.signatures.length, need: trust.policy.threshold };
    // Views carry the publisher's signature only: while the release waits for other key holders'
    // approval, machines would refuse them, so the server is then left to serve the whole manifest.
    if (opts.hostViews && (!report.approval || report.approval.have >= report.approval.need)) report.views = signHostViews(w.manifest, key.secret);
  } else {
    previous = (await primary.state(trusted)).latest;
  }
  report.removed = Object.keys(previous?.hosts ?? {}).filter((n) => !fleetNames.has(n)).sort();
  report.hosts = build.hosts.map((h) => {
    const before = previous?.hosts[h.name];
    const ok = h.status === "built" || h.status === "present";
    const entry: EntryChange = ok ? (!before ? "new" : before.toplevel === h.toplevel ? "unchanged" : "changed") : before ? "kept-previous" : "absent";
    const up = uploads.reduce((a, u) => ({ p: a.p + (u.hosts[h.name]?.uploadedPaths ?? 0), b: a.b + (u.hosts[h.name]?.uploadedBytes ?? 0) }), { p: 0, b: 0 });
    return {
      name: h.name,
      system: h.system,
      build: h.status,
      failedStep: h.failedStep,
      toplevel: h.toplevel,
      closureSize: h.closureSize,
      timeMs: h.timeMs,
      error: h.error,
      entry,
      uploadedPaths: up.p,
      uploadedBytes: up.b,
    };
  });
  return report;
}

function rolloutOf(c: ChannelConfig | undefined): RolloutPlan | undefined {
  return c?.rollout ? planOf(c.rollout) : undefined;
}
