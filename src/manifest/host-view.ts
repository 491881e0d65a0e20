import type { SecretKey } from "../nix/index.js";
import { canonicalJson } from "./canonical.js";
import { signManifest, type Manifest, type ManifestBody } from "./manifest.js";

/**
 * A host's view of a release: the very same signed fields (channel, sequence, version, commit,
 * times, caches), with `hosts` reduced to that host's one entry, signed on its own. It is an
 * ordinary manifest, checked by every reader exactly as one (signature, channel, sequence,
 * expiry, an entry for this host), so a machine needs nothing new to accept it. It lets a
 * control server answer each of 10,000 hosts with half a kilobyte instead of the channel's
 * megabyte, without holding a key: publish signs the views beside the manifest, the server only
 * checks that each is exactly the release cut down to one host (viewHost) and chooses which to
 * serve.
 */
export function hostViewBody(m: ManifestBody | Manifest, host: string): ManifestBody {
  const entry = m.hosts[host];
  if (!entry || !Object.hasOwn(m.hosts, host)) throw new Error(`host ${host} is not in the manifest`);
  const { signatures: _ignored, ...body } = m as Manifest;
  return { ...body, hosts: { [host]: entry } };
}

/**
 * The media type of a release upload that carries views: `{manifest, views}`, each the exact
 * signed text (`POST /api/v1/releases` on a control server, from `oscd publish --server`).
 */
export const RELEASE_WITH_VIEWS = "application/vnd.oscd.release+json";

/** Every host's view of `m`, each signed with `keys` (the keys that signed `m`). */
export function signHostViews(m: Manifest, keys: SecretKey | readonly SecretKey[]): Manifest[] {
  return Object.keys(m.hosts)
    .sort()
    .map((h) => signManifest(hostViewBody(m, h), keys));
}

/**
 * The host `view` is a view of, when it is exactly `release` with `hosts` cut down to that one
 * host's entry; undefined for anything else (another release's fields, an entry that differs,
 * several hosts, a host the release does not name). Signatures are not looked at here: check
 * them with verifyManifest as for any manifest.
 */
export function viewHost(view: ManifestBody | Manifest, release: ManifestBody | Manifest): string | undefined {
  const names = Object.keys(view.hosts);
  if (names.length !== 1) return undefined;
  const host = names[0] as string;
  if (!Object.hasOwn(release.hosts, host)) return undefined;
  const rest = (m: ManifestBody | Manifest) => canonicalJson({ ...m, hosts: undefined, signatures: undefined });
  if (rest(view) !== rest(release)) return undefined;
  return canonicalJson(view.hosts[host]) === canonicalJson(release.hosts[host]) ? host : undefined;
}
