import { Command, Option } from "commander";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { UsageError } from "../../core/errors.js";
import { dryRunPlan } from "../../core/dry-run.js";
import { dryRunHelp, printDryRun } from "../dry-run.js";
import { loadMachineConfig } from "../../fleet/index.js";
import { parseValidity } from "../../publish/index.js";
import { parsePublicKey } from "../../nix/index.js";
import {
  checkTrustFreshness,
  initTrust,
  MachineTrust,
  nextRevocations,
  ON_REVOKED,
  parseTrustRoot,
  publishTrustDocument,
  readTrustDocument,
  rotateTrust,
  serializeRevocations,
  serializeTrustRoot,
  signRevocations,
  signTrustRoot,
  trustSource,
  verifyRevocations,
  verifyRootUpdate,
  verifySelfSigned,
  writeDocumentFile,
  type Revocations,
  type TrustDocument,
  type TrustRoot,
} from "../../trust/index.js";
import { collect, publicKeyArgs, signKeyFiles } from "../key-args.js";
import { printJson, table } from "../output.js";

const keyName = (k: string) => parsePublicKey(k).name;

function describeRoot(t: TrustRoot, now: Date): string {
  const rows: string[][] = [
    ["version", String(t.version)],
    ["created", t.createdAt],
    ["expires", `${t.expiresAt}${Date.parse(t.expiresAt) <= now.getTime() ? " (expired)" : ""}`],
    ["root keys", `${t.root.threshold} of ${t.root.keys.map((k) => keyName(k.key) + (k.rejectBefore ? ` (rejectBefore ${k.rejectBefore})` : "")).join(", ")}`],
    ...Object.keys(t.channels)
      .sort()
      .map((c) => {
        const p = t.channels[c] as TrustRoot["channels"][string];
        const extra = [p.onRevoked ? `onRevoked ${p.onRevoked}` : "", p.sequenceEpoch ? `sequence epoch ${p.sequenceEpoch}` : ""].filter(Boolean).join(", ");
        return [`channel ${c}`, `${p.threshold} of ${p.keys.map((k) => keyName(k.key) + (k.rejectBefore ? ` (rejectBefore ${k.rejectBefore})` : "")).join(", ")}${extra ? `; ${extra}` : ""}`];
      }),
    ["cache keys", t.cacheKeys.map(keyName).join(", ")],
    ["signed by", t.signatures.map((s) => s.slice(0, s.indexOf(":"))).join(", ") || "nobody"],
  ];
  return table(rows);
}

function describeRevocations(l: Revocations): string {
  const head = table([
    ["channel", l.channel],
    ["version", String(l.version)],
    ["created", l.createdAt],
    ["signed by", l.signatures.map((s) => s.slice(0, s.indexOf(":"))).join(", ") || "nobody"],
  ]);
  const rows = [["REVOKED", "REASON"], ...l.revoked.map((r) => [r.sequence !== undefined ? `sequence ${r.sequence}` : r.commit !== undefined ? `commit ${r.commit}` : `toplevel ${r.toplevel}`, r.reason])];
  return `${head}\n${table(rows)}`;
}

async function writeOut(path: string, text: string, json: boolean | undefined, summary: object): Promise<void> {
  await writeDocumentFile(resolve(path), text);
  if (json) printJson({ file: resolve(path), ...summary });
  else process.stdout.write(`wrote ${resolve(path)}\n`);
}

/** The trust root a document is checked with: the given file, or root.json beside it (a trust directory). */
async function rootFor(file: string, given: string | undefined): Promise<TrustRoot> {
  const path = given ?? join(dirname(resolve(file)), "root.json");
  const d = await readTrustDocument(path);
  if (d.kind !== "root") throw new UsageError(`${path} is not a trust root`, "pass the trust root with --root FILE", "trust-usage");
  verifySelfSigned(d.doc, path);
  return d.doc;
}

export function registerTrust(program: Command): void {
  const trust = program.command("trust").description("the fleet's signed trust root (root, release and cache keys, thresholds), its rotation and revocation lists");

  trust
    .command("init")
    .description("write version 1 of a trust root: root keys and threshold, release keys and threshold per channel, cache keys")
    .requiredOption("-o, --out <file>", "where to write it (e.g. trust/1.root.json)")
    .requiredOption("--root-key <key>", "a root public key, name:base64 or a file (repeatable); root keys sign the next version and stay offline", collect)
    .option("--root-threshold <n>", "how many root keys must sign a version (default 1)", Number)
    .requiredOption("--release-key <key>", "a release public key that signs manifests (repeatable)", collect)
    .option("--release-threshold <n>", "how many release keys must sign a manifest (default 1)", Number)
    .option("--channel <name>", "a channel the release keys sign for (repeatable; default: every channel, *)", collect)
    .option("--cache-key <key>", "a key machines accept store paths signed by (repeatable; default: the release keys)", collect)
    .addOption(new Option("--on-revoked <action>", "what a machine running a revoked release does: report, newest (move to the newest release not revoked), rollback").choices(ON_REVOKED))
    .option("--valid-for <duration>", "until when machines act on it (expiresAt): 30d, 26w, 366d at most", "365d")
    .option("--sign-key <file>", "a secret key file to sign it with (repeatable): the root keys, and for machines that trust only the old fleet key, that key too", collect)
    .option("--json", "print what was written as JSON")
    .addHelpText(
      "after",
      `
Examples:
  oscd trust init -o trust/1.root.json --root-key root-1.public --root-key root-2.public --root-threshold 2 --release-key ci-1.public --sign-key /media/offline/root-1.secret
  oscd trust init -o 1.root.json --root-key root-1.public --release-key fleet-1.public --sign-key root-1.secret --sign-key fleet-1.secret     # machines that trust only fleet-1 walk to it

Then: more root key holders add their signatures (oscd trust sign), oscd trust verify, and
oscd trust publish puts it beside the manifests, where machines fetch and walk it.`,
    )
    .action(async (o: { out: string; rootKey: string[]; rootThreshold?: number; releaseKey: string[]; releaseThreshold?: number; channel?: string[]; cacheKey?: string[]; onRevoked?: (typeof ON_REVOKED)[number]; validFor: string; signKey?: string[]; json?: boolean }) => {
      const body = initTrust({
        rootKeys: await publicKeyArgs(o.rootKey),
        rootThreshold: o.rootThreshold,
        releaseKeys: await publicKeyArgs(o.releaseKey),
        releaseThreshold: o.releaseThreshold,
        channels: o.channel,
        cacheKeys: await publicKeyArgs(o.cacheKey),
        onRevoked: o.onRevoked,
        now: new Date(),
        validForMs: parseValidity(o.validFor),
      });
      const signed = signTrustRoot(body, await signKeyFiles(o.signKey));
      await writeOut(o.out, serializeTrustRoot(signed), o.json, { version: signed.version, signatures: signed.signatures.length });
    });

  trust
    .command("show")
    .argument("[file]", "a trust root or revocation list (path or URL); default: this machine's trust state")
    .option("--state-dir <dir>", "the machine's state directory, without a file", "/var/lib/oscd")
    .option("--config <file>", "machine configuration, without a file (its trustedPublicKeys are the implicit root)", "/etc/oscd/machine.toml")
    .option("--json", "print it as JSON")
    .description("print a trust root (keys, thresholds, expiry, signers) or a revocation list; without a file, the one this machine holds")
    .addHelpText(
      "after",
      `
Examples:
  oscd trust show trust/3.root.json
  oscd trust show https://cache.example.org/channels/trust/root.json --json
  oscd trust show                        # this machine: trust root version in force, revocations`,
    )
    .action(async (file: string | undefined, o: { stateDir: string; config: string; json?: boolean }) => {
      const now = new Date();
      if (file === undefined) {
        const machine = await loadMachineConfig(o.config);
        const t = await MachineTrust.load({ stateDir: o.stateDir, trustedPublicKeys: machine.trustedPublicKeys, bootstrap: machine.trustRoot });
        const revocations = t.revocations();
        if (o.json) printJson({ implicit: t.implicit, version: t.version, root: t.implicit ? null : t.root, revocations });
        else {
          process.stdout.write(t.implicit ? `no trust root yet: the implicit root of trustedPublicKeys (${t.root.root.keys.map((k) => keyName(k.key)).join(", ") || "none"}), any one key\n` : describeRoot(t.root, now));
          for (const l of revocations) process.stdout.write(`\n${describeRevocations(l)}`);
        }
        return;
      }
      const d = await readTrustDocument(file);
      if (o.json) printJson({ kind: d.kind, ...d.doc });
      else process.stdout.write(d.kind === "root" ? describeRoot(d.doc, now) : describeRevocations(d.doc));
    });

  trust
    .command("verify")
    .argument("<file>", "a trust root or revocation list (path or URL)")
    .option("--previous <file>", "a trust root: the version before it, whose root threshold must sign it too (rotation)")
    .option("--trust-root <file>", "a revocation list: the trust root to check it with (default: root.json beside it)")
    .option("--ignore-expiry", "do not refuse an expired trust root (e.g. an archived version)")
    .option("--json", "print the result as JSON")
    .description("check a trust root's signatures (its own root threshold, and with --previous the previous one's) and expiry, or a revocation list's release threshold")
    .addHelpText(
      "after",
      `
Examples:
  oscd trust verify trust/1.root.json
  oscd trust verify trust/4.root.json --previous trust/3.root.json
  oscd trust verify trust/main.revocations.json --trust-root trust/4.root.json

Exit 0 when it verifies; 3 when a threshold is not met (trust-threshold), the version is not
the next one (trust-rollback, trust-version-skip) or it expired (trust-expired).`,
    )
    .action(async (file: string, o: { previous?: string; trustRoot?: string; ignoreExpiry?: boolean; json?: boolean }) => {
      const now = new Date();
      const d = await readTrustDocument(file);
      if (d.kind === "revocations") {
        const root = await rootFor(file, o.trustRoot);
        const v = verifyRevocations(root, d.text, d.doc.channel, file);
        const signers = v === "same" ? [] : v.signers;
        if (o.json) printJson({ ok: true, kind: "revocations", channel: d.doc.channel, version: d.doc.version, signers, rootVersion: root.version });
        else process.stdout.write(`ok: revocation list of channel ${d.doc.channel} version ${d.doc.version}, ${d.doc.revoked.length} entr${d.doc.revoked.length === 1 ? "y" : "ies"}, signed by ${signers.join(", ")} (trust root version ${root.version})\n`);
        return;
      }
      const own = verifySelfSigned(d.doc, file);
      let previous: string[] | undefined;
      if (o.previous) {
        const p = await readTrustDocument(o.previous);
        if (p.kind !== "root") throw new UsageError(`${o.previous} is not a trust root`, "pass the previous version's file", "trust-usage");
        previous = verifyRootUpdate(p.doc, d.text, file).byPrevious.counted.map((k) => k.name);
      }
      if (!o.ignoreExpiry) checkTrustFreshness(d.doc, now);
      if (o.json) printJson({ ok: true, kind: "root", version: d.doc.version, expiresAt: d.doc.expiresAt, signers: own.counted.map((k) => k.name), previousSigners: previous ?? null });
      else process.stdout.write(`ok: trust root version ${d.doc.version} signed by ${own.counted.map((k) => k.name).join(", ")} (${d.doc.root.threshold} needed)${previous ? `, and by ${previous.join(", ")} of the previous version` : ""}; expires ${d.doc.expiresAt}${o.ignoreExpiry ? " (not checked)" : ""}\n`);
    });

  trust
    .command("sign")
    .argument("<file>", "a trust root or revocation list: signatures are added in place (or to --out)")
    .requiredOption("--sign-key <file>", "a secret key file (repeatable)", collect)
    .option("-o, --out <file>", "write the signed document here instead")
    .option("--json", "print the signers as JSON")
    .description("add signatures to a trust root or revocation list without changing what is signed (one key holder after another)")
    .addHelpText(
      "after",
      `
Examples:
  oscd trust sign trust/2.root.json --sign-key /media/offline/root-2.secret
  oscd trust sign main.revocations.json --sign-key release-2.secret`,
    )
    .action(async (file: string, o: { signKey: string[]; out?: string; json?: boolean }) => {
      const d: TrustDocument = await readTrustDocument(file);
      const keys = await signKeyFiles(o.signKey);
      const signed = d.kind === "root" ? signTrustRoot(d.doc, keys) : signRevocations(d.doc, keys);
      const text = d.kind === "root" ? serializeTrustRoot(signed as TrustRoot) : serializeRevocations(signed as Revocations);
      await writeOut(o.out ?? file, text, o.json, { kind: d.kind, version: d.doc.version, signers: signed.signatures.map((s) => s.slice(0, s.indexOf(":"))) });
    });

  trust
    .command("rotate")
    .argument("<file>", "the current trust root")
    .requiredOption("-o, --out <file>", "where to write the next version")
    .option("--add-root-key <key>", "a new root key (repeatable)", collect)
    .option("--remove-root-key <name>", "a root key to retire, by name (repeatable)", collect)
    .option("--root-threshold <n>", "the new root threshold", Number)
    .option("--channel <name>", "the channel the release key changes apply to (default: the only one, else *)")
    .option("--add-release-key <key>", "a new release key of the channel (repeatable)", collect)
    .option("--remove-release-key <name>", "a release key to retire, by name (repeatable): starts a new sequence epoch", collect)
    .option("--release-threshold <n>", "the channel's new release threshold", Number)
    .addOption(new Option("--on-revoked <action>", "what a machine running a revoked release of the channel does").choices(ON_REVOKED))
    .option("--add-cache-key <key>", "a new cache key (repeatable)", collect)
    .option("--remove-cache-key <name>", "a cache key to retire, by name (repeatable)", collect)
    .option("--reject-before <name=time>", "nothing the key signed before this ISO time counts (repeatable)", collect)
    .option("--reset-sequences", "start a new sequence epoch on the channel without removing a key")
    .option("--valid-for <duration>", "validity of the new version", "365d")
    .option("--sign-key <file>", "a secret key file to sign with (repeatable): root keys of the current and of the new version", collect)
    .option("--json", "print what was written as JSON")
    .description("write the next version of a trust root: keys added, retired or cut off, thresholds changed; signed by the old and the new root keys")
    .addHelpText(
      "after",
      `
Examples:
  oscd trust rotate trust/1.root.json -o trust/2.root.json --add-release-key ci-2.public --remove-release-key ci-1 --sign-key /media/offline/root-1.secret
  oscd trust rotate trust/2.root.json -o trust/3.root.json --add-root-key root-2.public --remove-root-key root-1 --sign-key root-1.secret --sign-key root-2.secret
  oscd trust rotate trust/3.root.json -o trust/4.root.json --channel production --release-threshold 2 --add-release-key alice.public --add-release-key bob.public

A machine accepts version N+1 only when N's root threshold and N+1's both signed it; it walks
every version in between. Retiring a release key starts a new sequence epoch on the channel:
manifests from before the rotation are refused, and sequences a leaked key pushed up no longer
hold the channel. Publish (or oscd publish --refresh) with the new key right after.`,
    )
    .action(
      async (
        file: string,
        o: {
          out: string;
          addRootKey?: string[];
          removeRootKey?: string[];
          rootThreshold?: number;
          channel?: string;
          addReleaseKey?: string[];
          removeReleaseKey?: string[];
          releaseThreshold?: number;
          onRevoked?: (typeof ON_REVOKED)[number];
          addCacheKey?: string[];
          removeCacheKey?: string[];
          rejectBefore?: string[];
          resetSequences?: boolean;
          validFor: string;
          signKey?: string[];
          json?: boolean;
        },
      ) => {
        const d = await readTrustDocument(file);
        if (d.kind !== "root") throw new UsageError(`${file} is not a trust root`, "pass the current trust root", "trust-usage");
        const body = rotateTrust(d.doc, {
          addRootKeys: await publicKeyArgs(o.addRootKey),
          removeRootKeys: o.removeRootKey,
          rootThreshold: o.rootThreshold,
          channel: o.channel,
          addReleaseKeys: await publicKeyArgs(o.addReleaseKey),
          removeReleaseKeys: o.removeReleaseKey,
          releaseThreshold: o.releaseThreshold,
          onRevoked: o.onRevoked,
          addCacheKeys: await publicKeyArgs(o.addCacheKey),
          removeCacheKeys: o.removeCacheKey,
          rejectBefore: (o.rejectBefore ?? []).map((s) => {
            const i = s.indexOf("=");
            if (i <= 0) throw new UsageError(`--reject-before ${s}: expected NAME=TIME`, "e.g. --reject-before ci-1=2026-11-20T08:00:00Z", "trust-usage");
            return { name: s.slice(0, i), time: s.slice(i + 1) };
          }),
          resetSequences: o.resetSequences,
          now: new Date(),
          validForMs: parseValidity(o.validFor),
        });
        const signed = signTrustRoot(body, await signKeyFiles(o.signKey));
        await writeOut(o.out, serializeTrustRoot(signed), o.json, { version: signed.version, signatures: signed.signatures.length });
      },
    );

  trust
    .command("revoke")
    .requiredOption("--channel <name>", "the channel whose revocation list this is")
    .option("--previous <file>", "the channel's current revocation list (its entries are kept; the version goes up)")
    .option("--sequence <n>", "a release (manifest sequence) of the channel no machine may activate (repeatable)", collect)
    .option("--commit <id>", "a commit no machine may activate (repeatable)", collect)
    .option("--toplevel <path>", "a toplevel store path no machine may activate (repeatable)", collect)
    .option("--reason <text>", "why (shown on every machine that refuses it)", "")
    .requiredOption("-o, --out <file>", "where to write the new list")
    .option("--sign-key <file>", "a release secret key file (repeatable: the channel's release threshold must sign it)", collect)
    .option("--json", "print what was written as JSON")
    .description("write the next version of a channel's signed revocation list: releases, commits or toplevels no machine may activate again")
    .addHelpText(
      "after",
      `
Examples:
  oscd trust revoke --channel main --sequence 41 --reason "CVE-2026-1234" -o main.revocations.json --sign-key release-1.secret --sign-key release-2.secret
  oscd trust revoke --channel main --previous main.revocations.json --toplevel /nix/store/…-nixos-system-web1 --reason "broken bootloader" -o main.revocations.json --sign-key ci.secret

Then oscd trust publish main.revocations.json --to <channels>/trust. Agents refuse a revoked
release, push deploys, oscd activate --manifest and bundles alike (release-revoked); an agent
running one reports it and acts on the channel's onRevoked (report, newest, rollback).`,
    )
    .action(async (o: { channel: string; previous?: string; sequence?: string[]; commit?: string[]; toplevel?: string[]; reason: string; out: string; signKey?: string[]; json?: boolean }) => {
      let prev: Revocations | undefined;
      if (o.previous) {
        const d = await readTrustDocument(o.previous);
        if (d.kind !== "revocations") throw new UsageError(`${o.previous} is not a revocation list`, "pass the channel's current list", "trust-usage");
        prev = d.doc;
      }
      const sequences = (o.sequence ?? []).map((s) => {
        if (!/^[1-9][0-9]{0,15}$/.test(s) || !Number.isSafeInteger(Number(s))) throw new UsageError(`--sequence ${s}: not a sequence`, "a manifest sequence is a positive whole number", "trust-usage");
        return Number(s);
      });
      if (sequences.length + (o.commit?.length ?? 0) + (o.toplevel?.length ?? 0) === 0 && !prev) throw new UsageError("name something to revoke: --sequence, --commit or --toplevel", "see oscd trust revoke --help", "trust-usage");
      const body = nextRevocations(prev, { channel: o.channel, sequences, commits: o.commit, toplevels: o.toplevel, reason: o.reason, now: new Date() });
      const signed = signRevocations(body, await signKeyFiles(o.signKey));
      await writeOut(o.out, serializeRevocations(signed), o.json, { channel: signed.channel, version: signed.version, entries: signed.revoked.length, signatures: signed.signatures.length });
    });

  trust
    .command("publish")
    .argument("<files...>", "trust roots (every version, in order) and revocation lists")
    .requiredOption("--to <dir>", "the channels' trust directory machines read (e.g. /srv/nix-cache/channels/trust)")
    .option("--dry-run", dryRunHelp("it reads and verifies every document against the directory, and writes nothing"))
    .option("--json", "print what was written as JSON")
    .description("put verified trust roots and revocation lists where machines fetch them: <dir>/<N>.root.json, <dir>/root.json, <dir>/<channel>.revocations.json")
    .addHelpText(
      "after",
      `
Examples:
  oscd trust publish trust/1.root.json --to /srv/nix-cache/channels/trust
  oscd trust publish trust/2.root.json trust/3.root.json main.revocations.json --to /srv/nix-cache/channels/trust
  oscd trust publish trust/2.root.json --to /srv/nix-cache/channels/trust --dry-run

Each trust root must follow the one before it in the directory (old and new root thresholds),
each revocation list must carry its channel's release threshold; a version that is already
there with other content is refused.`,
    )
    .action(async (files: string[], o: { to: string; json?: boolean; dryRun?: boolean }) => {
      const dir = resolve(o.to);
      const written: { path: string; status: string }[] = [];
      // A dry run keeps what would be written here, so a later file is checked against it.
      const pending = o.dryRun ? new Map<string, string>() : undefined;
      const read = async (path: string) => pending?.get(path) ?? (await readFile(path, "utf8").catch(() => undefined));
      for (const f of files) {
        const d = await readTrustDocument(f);
        if (d.kind === "root") {
          const prevPath = join(dir, `${d.doc.version - 1}.root.json`);
          const prevText = d.doc.version > 1 ? await read(prevPath) : undefined;
          if (prevText !== undefined) verifyRootUpdate(parseTrustRoot(prevText, prevPath), d.text, f);
          else if (d.doc.version > 1) throw new UsageError(`${prevPath} is missing: machines walk every version, so version ${d.doc.version - 1} must be published first`, "publish the versions in order", "trust-usage");
          verifySelfSigned(d.doc, f);
        } else {
          const rootPath = join(dir, "root.json");
          const rootText = pending?.get(rootPath);
          const root = rootText !== undefined ? parseTrustRoot(rootText, rootPath) : await rootFor(f, rootPath);
          verifyRevocations(root, d.text, d.doc.channel, f);
        }
        written.push(...(await publishTrustDocument(dir, d, pending)).map((w) => ({ ...w, from: f })));
      }
      if (pending) {
        const plan = dryRunPlan("trust publish", [`verified ${files.length} document(s) against ${dir}`]);
        for (const w of written as { path: string; status: string; from: string }[]) {
          if (w.status === "written") plan.steps.push({ action: "write", target: w.path, detail: `from ${w.from}` });
          else plan.did.push(`${w.path}: ${w.status === "unchanged" ? "already holds it" : "holds a newer version; kept"}`);
        }
        return printDryRun(plan, o.json);
      }
      if (o.json) printJson({ dir, files: written.map(({ path, status }) => ({ path, status })) });
      else for (const w of written) process.stdout.write(`${w.path}: ${w.status}\n`);
    });

  trust
    .command("update")
    .option("--from <location>", "the channel's trust directory: a path or URL (default: trust/ beside --manifest)")
    .option("--manifest <url>", "the channel manifest URL whose trust/ directory to read")
    .option("--channel <name>", "also take this channel's revocation list", "main")
    .option("--config <file>", "machine configuration", "/etc/oscd/machine.toml")
    .option("--state-dir <dir>", "the machine's state directory", "/var/lib/oscd")
    .option("--json", "print the result as JSON")
    .description("on a machine: walk newer trust roots from the channel one version at a time, persist the highest, and take the channel's newer revocation list")
    .addHelpText(
      "after",
      `
Examples:
  oscd trust update --from https://cache.example.org/channels/trust/
  oscd trust update --manifest https://oscd.example.org/api/v1/channels/main/manifest --channel main
  oscd trust update --from /media/usb/kiosk1/trust --channel bundle

The agent and oscd activate --manifest do this themselves before checking a manifest; push
deploys use what the machine holds, so run this first on a machine without an agent.`,
    )
    .action(async (o: { from?: string; manifest?: string; channel: string; config: string; stateDir: string; json?: boolean }) => {
      const location = o.from ?? (o.manifest ? (await import("../../trust/index.js")).trustLocationBeside(o.manifest) : undefined);
      if (!location) throw new UsageError("name where the trust documents are: --from DIR|URL or --manifest URL", "see oscd trust update --help", "trust-usage");
      const machine = await loadMachineConfig(o.config);
      const t = await MachineTrust.load({ stateDir: o.stateDir, trustedPublicKeys: machine.trustedPublicKeys, bootstrap: machine.trustRoot });
      const u = await t.update(trustSource(location), { channel: o.channel });
      t.assertFresh(new Date());
      if (o.json) printJson({ ...u, revocationsVersion: t.revocationsOf(o.channel)?.version ?? null });
      else {
        process.stdout.write(u.walked.length > 0 ? `trust root version ${u.from} → ${u.to} (walked ${u.walked.join(", ")})\n` : `trust root version ${u.to}${t.implicit ? " (implicit: trustedPublicKeys)" : ""}: nothing newer\n`);
        if (u.offeredOlder !== undefined) process.stdout.write(`version ${u.offeredOlder} was offered and refused (older than ${u.to})\n`);
        const l = t.revocationsOf(o.channel);
        process.stdout.write(l ? `revocation list of channel ${o.channel}: version ${l.version}, ${l.revoked.length} entr${l.revoked.length === 1 ? "y" : "ies"}${u.revocations !== undefined ? " (new)" : ""}\n` : `revocation list of channel ${o.channel}: none\n`);
      }
    });
}
