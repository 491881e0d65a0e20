import type { Command } from "commander";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { GuardError, OscdError, UsageError } from "../../core/errors.js";
import { BodyTooLargeError, fetchCapped, type CappedResponse } from "../../core/fetch-capped.js";

/** A manifest is at most 16 MiB (the strict reader's limit): larger answers are cut off while reading. */
const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
import { loadFleet } from "../../fleet/index.js";
import { formatPublicKey, parsePublicKey, readPublicKeyFile, type PublicKey } from "../../nix/index.js";
import { checkChannelName, checkFreshness, checkSequence, DEFAULT_SKEW_MS, fileStoreDir, parseManifest, signatureKeyNames, verifyManifest, type Manifest } from "../../publish/index.js";
import { printJson, table } from "../output.js";
import { signKeyFiles } from "../key-args.js";
import { MachineTrust, readTrustDocument, verifySelfSigned } from "../../trust/index.js";
import type { SecretKey } from "../../nix/index.js";

/** A trust root file (or URL) as in-memory trust: its own root threshold must have signed it. */
async function trustRootArg(location: string): Promise<MachineTrust> {
  const d = await readTrustDocument(location);
  if (d.kind !== "root") throw new UsageError(`${location} is not a trust root`, "pass the channel's trust root (trust/root.json)", "trust-usage");
  verifySelfSigned(d.doc, location);
  return MachineTrust.of(d.doc);
}

/** A key given as `name:base64`, or a path to a public key file. */
async function keyArg(v: string): Promise<PublicKey> {
  if (/^[A-Za-z0-9._+-]+:[A-Za-z0-9+/]+={0,2}$/.test(v)) return parsePublicKey(v);
  return readPublicKeyFile(v);
}

/** Reads a manifest from a path or an http(s) URL. */
async function readSource(where: string): Promise<string> {
  if (/^https?:\/\//.test(where)) {
    let res: CappedResponse;
    try {
      res = await fetchCapped(where, { signal: AbortSignal.timeout(30_000), maxBytes: MAX_DOCUMENT_BYTES });
    } catch (e) {
      if (e instanceof BodyTooLargeError) throw new GuardError("manifest-format", `${where} is larger than ${MAX_DOCUMENT_BYTES} bytes, larger than any manifest (nothing past that was read)`, "check the URL");
      const cause = (e as { cause?: { code?: string } }).cause;
      throw new OscdError("manifest-unreachable", `cannot fetch ${where}: ${cause?.code ?? (e instanceof Error ? e.message : String(e))}`, { hint: "check the URL and that the server is up" });
    }
    if (res.status !== 200) throw new OscdError("manifest-unreachable", `${where} answered ${res.status}`, { hint: "check the URL; manifests live at <cache>/channels/<channel>.json" });
    return res.text;
  }
  const path = where.startsWith("file://") ? where.slice("file://".length) : where;
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    throw new OscdError("manifest-missing", `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { hint: "check the path; `oscd publish` writes <cache>/channels/<channel>.json", exitCode: 2 });
  }
}

function expiryText(m: Manifest, now = new Date()): string {
  if (m.expiresAt === undefined) return "never (published before expiry existed; agents refuse it)";
  return Date.parse(m.expiresAt) <= now.getTime() ? `${m.expiresAt} (expired)` : m.expiresAt;
}

function describe(m: Manifest, signer: string | undefined, write: (s: string) => void): void {
  write(
    table([
      ["channel", m.channel],
      ["sequence", String(m.sequence)],
      ["version", m.version],
      ["commit", m.commit],
      ["ref", m.ref],
      ["created", m.createdAt],
      ["expires", expiryText(m)],
      ["caches", m.caches.join(" ") || "-"],
      ["signed by", signer ?? `${signatureKeyNames(m).join(", ") || "nobody"} (not checked: no trusted key given)`],
    ]),
  );
  const rows = [["HOST", "SYSTEM", "TOPLEVEL"], ...Object.keys(m.hosts).sort().map((h) => [h, m.hosts[h]?.system ?? "", m.hosts[h]?.toplevel ?? ""])];
  write("\n" + table(rows));
}

interface VerifyFlags {
  trustedKey?: string[];
  trustRoot?: string;
  images?: string;
  skipFiles?: boolean;
  substituter?: string[];
  ignoreExpiry?: boolean;
  previous?: string;
  json?: boolean;
}

interface ShowFlags {
  trustedKey?: string[];
  channel?: string;
  cache?: string;
  repo?: string;
  json?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerManifest(program: Command): void {
  const manifest = program.command("manifest").description("check, print and co-sign signed release manifests");

  manifest
    .command("verify")
    .argument("<file>", "a manifest: a path or an http(s) URL")
    .option("--trusted-key <key>", "a trusted public key, name:base64 or a file (repeatable)", collect)
    .option("--trust-root <file>", "check the channel's release keys and threshold in this trust root instead of --trusted-key (oscd trust init)")
    .option("--previous <file>", "a manifest applied before: the new one must be the same channel with a higher sequence")
    .option("--ignore-expiry", "check the signature only, not expiresAt (e.g. for an archived manifest); the result still says whether it expired")
    .option("--images <dir>", "re-hash image and netboot files from this directory (as oscd image -o writes them) instead of the Nix store")
    .option("--substituter <url>", "fetch image and netboot store paths this machine lacks from this cache first (signatures by --trusted-key required; repeatable)", collect)
    .option("--skip-files", "do not re-hash the image and netboot files the manifest names (e.g. on a machine that does not have them)")
    .option("--json", "print the result as JSON")
    .description("check a manifest's signature and expiry (and, with --previous, that its sequence went forward)")
    .addHelpText(
      "after",
      `
Examples:
  oscd manifest verify /srv/nix-cache/channels/main.json --trusted-key fleet-1.public
  oscd manifest verify https://cache.example.org/channels/main.json --trusted-key 'fleet-1:AbC…='
  oscd manifest verify new.json --trusted-key fleet-1.public --previous last-applied.json
  oscd manifest verify main.json --trusted-key fleet-1.public --substituter https://cache.example.org
  oscd manifest verify main.json --trusted-key fleet-1.public --images ./images
  oscd manifest verify main.json --trust-root trust/root.json     # release threshold of the channel

Exit 0 when the manifest is signed by one of the keys, not expired (5 minutes of clock skew
tolerated; a manifest without expiresAt counts as unchecked and is refused) and newer than
--previous; 3 when not. Image and netboot files it names (oscd image) are re-hashed from the
store (fetched first from --substituter caches when missing, or read from --images DIR) and
must be the signed bytes: image-hash-mismatch, or
image-file-missing when one cannot be read (--skip-files to check the signature only).`,
    )
    .action(async (file: string, o: VerifyFlags) => {
      if ((!o.trustedKey || o.trustedKey.length === 0) && !o.trustRoot) throw new UsageError("name the trusted public key(s) with --trusted-key, or the trust root with --trust-root", "e.g. --trusted-key fleet-1.public or --trusted-key 'fleet-1:base64…'");
      const now = new Date();
      const trust = o.trustRoot ? await trustRootArg(o.trustRoot) : undefined;
      const keys = trust ? trust.cacheKeys([]).map(parsePublicKey) : await Promise.all((o.trustedKey ?? []).map(keyArg));
      const m = parseManifest(await readSource(file), file);
      const signer = trust ? { name: trust.verifyManifest(m, file, now, { ignoreTrustExpiry: o.ignoreExpiry }).signers.map((k) => k.name).join(", ") } : verifyManifest(m, keys, file);
      if (!o.ignoreExpiry) checkFreshness(m, { now, skewMs: DEFAULT_SKEW_MS });
      const expired = m.expiresAt !== undefined && Date.parse(m.expiresAt) <= now.getTime();
      if (o.images && o.skipFiles) throw new UsageError("--images and --skip-files contradict each other");
      const substitute = o.substituter ? { substituters: o.substituter, trustedPublicKeys: keys.map(formatPublicKey) } : undefined;
      const files = o.skipFiles ? undefined : await (await import("../../image/index.js")).checkManifestFiles(m, { imagesDir: o.images, substitute });
      let sequence: string | undefined;
      if (o.previous) {
        const prev = parseManifest(await readSource(o.previous), o.previous);
        if (trust) trust.verifyManifest(prev, o.previous, now, { ignoreTrustExpiry: true });
        else verifyManifest(prev, keys, o.previous);
        sequence = checkSequence(prev, m);
      }
      if (o.json) printJson({ ok: true, channel: m.channel, sequence: m.sequence, signer: signer.name, expiresAt: m.expiresAt ?? null, expired, expiryChecked: !o.ignoreExpiry, previous: sequence, files: files ?? null });
      else {
        const expiry = `expires ${expiryText(m, now)}${o.ignoreExpiry ? " (not checked)" : ""}`;
        process.stdout.write(`ok: channel ${m.channel} sequence ${m.sequence} (${m.version}, ${m.commit.slice(0, 12)}) signed by ${signer.name}; ${expiry}${sequence ? `; ${sequence === "newer" ? "newer than" : "the same as"} --previous` : ""}${files && files.length > 0 ? `; ${files.length} image/netboot file(s) match their signed hashes` : ""}\n`);
      }
    });

  manifest
    .command("show")
    .argument("[file]", "a manifest: a path or an http(s) URL (default: the channel's manifest in the fleet's first cache)")
    .option("--channel <name>", "the channel, when no file is given (default: main)")
    .option("--cache <url>", "the cache to read it from, when no file is given (default: oscd.toml's first cache)")
    .option("-C, --repo <path>", "the fleet checkout whose oscd.toml names caches and trusted keys (default: .)")
    .option("--trusted-key <key>", "a trusted public key, name:base64 or a file (repeatable; default: oscd.toml keys.trusted)", collect)
    .option("--json", "print the manifest as JSON")
    .description("print a manifest: channel, sequence, commit, signer and each host's toplevel")
    .addHelpText(
      "after",
      `
Examples:
  oscd manifest show                                  # channels/main.json of oscd.toml's first cache
  oscd manifest show --channel testing --json
  oscd manifest show /srv/nix-cache/channels/main.json --trusted-key fleet-1.public

The signature is checked when trusted keys are known; a manifest that fails the check exits 3.`,
    )
    .action(async (file: string | undefined, o: ShowFlags) => {
      let where = file;
      let keys: PublicKey[] = o.trustedKey ? await Promise.all(o.trustedKey.map(keyArg)) : [];
      if (!where || keys.length === 0) {
        const fleet = await loadFleet(resolve(o.repo ?? ".")).catch((e: unknown) => {
          if (where) return undefined;
          throw e;
        });
        if (keys.length === 0 && fleet) keys = fleet.config.keys.trusted.map(parsePublicKey);
        if (!where) {
          const cache = o.cache ?? fleet?.config.caches.find((c) => c.startsWith("file://") || /^https?:\/\//.test(c));
          if (!cache) throw new UsageError("no manifest named and no file:// or http(s):// cache in oscd.toml", "pass the manifest's path or URL, or --cache URL");
          const channel = checkChannelName(o.channel ?? "main");
          const dir = fileStoreDir(cache);
          where = dir !== undefined ? join(dir, "channels", `${channel}.json`) : `${cache.split("?")[0]?.replace(/\/+$/, "")}/channels/${channel}.json`;
        }
      }
      const m = parseManifest(await readSource(where), where);
      const signer = keys.length > 0 ? verifyManifest(m, keys, where) : undefined;
      if (o.json) printJson({ ...m, verifiedBy: signer?.name ?? null });
      else describe(m, signer ? `${signer.name} (verified)` : undefined, (s) => process.stdout.write(s));
    });

  manifest
    .command("sign")
    .argument("<file>", "a manifest waiting for approval (oscd publish --require-approval), in a channel directory or a bundle")
    .requiredOption("--sign-key <file>", "your secret key file (a release key of the channel)")
    .option("--trust-root <file>", "the trust root: your key must be a release key of the channel, every signature already there must verify, and the count is shown")
    .option("-o, --out <file>", "write the signed manifest here instead of in place")
    .option("--json", "print the result as JSON")
    .description("add your signature to a signed manifest without changing what it says (approving a release of a channel that needs several)")
    .addHelpText(
      "after",
      `
Examples:
  oscd manifest show /srv/nix-cache/channels/production.json         # read what you approve
  oscd manifest sign /srv/nix-cache/channels/production.json --sign-key ~/keys/alice.secret --trust-root /srv/nix-cache/channels/trust/root.json
  oscd manifest sign ./bundle/manifest.json --sign-key /media/offline/release-2.secret

In a channel directory the current file and the history entry of the same sequence are both
updated. Machines refuse a manifest below its channel's threshold (manifest-threshold) and
take it once enough release keys signed.`,
    )
    .action(async (file: string, o: { signKey: string; trustRoot?: string; out?: string; json?: boolean }) => {
      if (/^https?:\/\//.test(file)) throw new UsageError("oscd manifest sign works on files", "download the manifest, sign it, and put it back where machines read it (or sign it on the cache's file system)", "usage");
      const { approveManifest } = await import("../../publish/index.js");
      const [key] = await signKeyFiles([o.signKey]);
      const root = o.trustRoot ? (await trustRootArg(o.trustRoot)).root : undefined;
      const r = await approveManifest(file, key as SecretKey, { out: o.out, trustRoot: root });
      if (o.json) printJson({ channel: r.manifest.channel, sequence: r.manifest.sequence, added: r.added, files: r.files, signers: signatureKeyNames(r.manifest), threshold: r.count ?? null });
      else {
        const state = r.count ? `; ${r.count.have} of ${r.count.need} release signatures${r.count.have >= r.count.need ? " (enough: machines take it)" : ` (waiting for ${r.count.need - r.count.have} more)`}` : "";
        process.stdout.write(`${r.added ? "signed" : "already signed by this key"}: channel ${r.manifest.channel} sequence ${r.manifest.sequence}, signed by ${signatureKeyNames(r.manifest).join(", ")}${state}\n${r.files.map((f) => `wrote ${f}\n`).join("")}`);
      }
    });
}
