import { readFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { GuardError, UsageError } from "../core/errors.js";
import { addManifestSignature, canonicalJson, manifestSigningBytes, parseManifest, serializeManifest, type Manifest } from "../manifest/index.js";
import { parsePublicKey, signerOf, type SecretKey } from "../nix/index.js";
import { channelPolicy, countSignatures, writeDocumentFile, type TrustRoot } from "../trust/index.js";

/**
 * `oscd manifest sign`: a second key holder approves a release by adding a signature to the
 * manifest as it is (the signed bytes do not change, so the first signature stays valid). In
 * a channel directory (a file cache's `channels/`, `--manifest-out`), the channel's current
 * file and its history entry of the same sequence are both updated, so machines see the
 * approved manifest wherever they read it.
 */
export interface ApproveOptions {
  /** Write here instead of in place (the channel's sibling files are then left alone). */
  out?: string;
  /** The trust root: the new signer must be a release key of the channel, and the count is reported. */
  trustRoot?: TrustRoot;
}

export interface ApproveResult {
  manifest: Manifest;
  added: boolean;
  /** Files written. */
  files: string[];
  /** With a trust root: valid release signatures now, and how many the channel needs. */
  count?: { have: number; need: number; signers: string[] };
}

const MAX_BYTES = 16 * 1024 * 1024;

async function readManifestFile(path: string): Promise<{ manifest: Manifest; text: string } | undefined> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_BYTES) throw new GuardError("manifest-format", `${path} is larger than any manifest`, "check the file");
    text = buf.toString("utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  return { manifest: parseManifest(text, path), text };
}

export async function approveManifest(file: string, key: SecretKey, o: ApproveOptions = {}): Promise<ApproveResult> {
  const path = resolve(file);
  const read = await readManifestFile(path);
  if (!read) throw new UsageError(`cannot read ${path}: no such file`, "pass the path of the manifest waiting for approval (oscd publish --require-approval wrote it)", "manifest-missing");
  const m = read.manifest;
  const bytes = manifestSigningBytes(m);
  // Every signature it already carries must verify with some key of the trust root (or the
  // signer's own): an approver never adds a signature to content someone edited after signing.
  if (o.trustRoot) {
    const policy = channelPolicy(o.trustRoot, m.channel);
    if (!policy) throw new GuardError("manifest-untrusted", `trust root version ${o.trustRoot.version} names no release keys for channel ${m.channel}`, "sign for a channel the trust root names");
    const mine = policy.keys.map((k) => parsePublicKey(k.key)).find((k) => k.key.equals(key.publicKey));
    if (!mine) throw new GuardError("key-not-trusted", `${key.name} is not a release key of channel ${m.channel} in trust root version ${o.trustRoot.version}: its signature would not count`, "sign with one of the channel's release keys (oscd trust show)");
    const all = [...policy.keys.map((k) => parsePublicKey(k.key))];
    const bad = m.signatures.filter((s) => signerOf(all, bytes, s) === undefined);
    if (bad.length > 0) throw new GuardError("manifest-untrusted", `${path} carries signature(s) by ${bad.map((s) => s.slice(0, s.indexOf(":"))).join(", ")} that do not verify with the channel's release keys (edited after signing, or signed by another key)`, "do not approve it: ask for the manifest again from the publisher");
  }
  const { manifest, added } = addManifestSignature(m, key);
  const text = serializeManifest(manifest);
  const files: string[] = [];
  const target = o.out ? resolve(o.out) : path;
  if (added || target !== path) {
    await writeDocumentFile(target, text);
    files.push(target);
  }
  if (!o.out && added) {
    // The channel's other file of this sequence: <channel>.json ↔ <channel>.<sequence>.json.
    const dir = dirname(path);
    const name = basename(path);
    const siblings = [`${m.channel}.json`, `${m.channel}.${m.sequence}.json`].filter((n) => n !== name).map((n) => join(dir, n));
    for (const s of siblings) {
      const other = await readManifestFile(s).catch(() => undefined);
      if (other && other.manifest.sequence === m.sequence && canonicalJson({ ...other.manifest, signatures: [] }) === canonicalJson({ ...m, signatures: [] })) {
        await writeDocumentFile(s, text);
        files.push(s);
      }
    }
  }
  let count: ApproveResult["count"];
  if (o.trustRoot) {
    const policy = channelPolicy(o.trustRoot, m.channel);
    if (policy) {
      const c = countSignatures(manifestSigningBytes(manifest), manifest.signatures, policy.keys, policy.threshold, manifest.signedAt ?? manifest.createdAt, 8);
      count = { have: c.counted.length, need: policy.threshold, signers: c.counted.map((k) => k.name) };
    }
  }
  return { manifest, added, files, count };
}
