import type { Command } from "commander";
import { UsageError } from "../../core/errors.js";
import { parseValidity, publish, refreshChannel, serializeManifest, SIGNING_KEY_ENV, type Manifest, type PublishProgress, type PublishReport, type RefreshReport } from "../../publish/index.js";
import { formatBytes, formatMs, printJson, table } from "../output.js";
import { failedHostsError, hostError, printBuildProgress } from "./build.js";
import { addBuildSourceOptions, buildSourceRequest, type BuildSourceFlags } from "../build-options.js";

export function printProgress(p: PublishProgress): void {
  const w = (s: string) => process.stderr.write(s);
  switch (p.step) {
    case "pin":
      w(`oscd: pinned commit ${p.commit.slice(0, 12)} (ref ${p.ref}${p.version ? `, version ${p.version}` : ""})\n`);
      return;
    case "upload":
      if (p.state === "uploading") w(`${p.host}: uploading ${p.paths} path(s) (${formatBytes(p.bytes)}) to ${p.url}\n`);
      else if (p.state === "uploaded") w(`${p.host}: uploaded to ${p.url}\n`);
      else w(`${p.host}: already in ${p.url}\n`);
      return;
    case "manifest":
      w(`oscd: ${p.url}: ${p.state === "written" ? `wrote sequence ${p.sequence}` : p.state === "unchanged" ? `unchanged at sequence ${p.sequence}` : `holds a newer sequence than ${p.sequence}; left as it is`}\n`);
      return;
    default:
      printBuildProgress(p);
  }
}

function summary(r: PublishReport): unknown {
  return {
    channel: r.channel,
    status: r.status,
    sequence: r.sequence,
    previousSequence: r.previousSequence,
    commit: r.commit,
    ref: r.ref,
    version: r.version,
    locations: r.locations,
    caches: r.caches.map((c) => ({ url: c.url, closurePaths: c.closurePaths, uploadedPaths: c.uploadedPaths, uploadedBytes: c.uploadedBytes, signedInCache: c.signedInCache, replacedInCache: c.replacedInCache })),
    uploadedPaths: r.caches.reduce((n, c) => n + c.uploadedPaths, 0),
    approval: r.approval ?? null,
    hosts: r.hosts.map((h) => ({
      name: h.name,
      system: h.system,
      build: h.build,
      failedStep: h.failedStep,
      entry: h.entry,
      toplevel: h.toplevel,
      closureSize: h.closureSize,
      timeMs: h.timeMs,
      uploadedPaths: h.uploadedPaths,
      uploadedBytes: h.uploadedBytes,
      error: hostError(h),
    })),
    carriedOver: r.carriedOver,
    removed: r.removed,
    failed: r.failed,
    warnings: r.warnings,
    retries: r.retries,
  };
}

interface PublishFlags extends BuildSourceFlags {
  channel?: string;
  key?: string;
  cache?: string[];
  manifestOut?: string;
  validFor: string;
  refresh?: boolean;
  netboot?: boolean;
  server?: string;
  serverTokenFile?: string;
  requireApproval?: boolean;
}

/** With --server, the control server is told of the manifest just written (it verifies it itself). */
export async function tellServer(o: Pick<PublishFlags, "server" | "serverTokenFile">, manifest: Manifest | undefined, json: boolean | undefined): Promise<void> {
  if (o.server === undefined || manifest === undefined) return;
  const { readServerToken, uploadRelease } = await import("../../server/index.js");
  const r = await uploadRelease(o.server, await readServerToken(o.serverTokenFile), serializeManifest(manifest));
  if (!json) process.stderr.write(`oscd: server ${o.server.replace(/\/\/[^/@]*@/, "//")}: channel ${r.channel} sequence ${r.sequence} ${r.created ? "added as a release" : "already known"}${r.state === "complete" ? " (served to every host)" : ""}\n`);
}

function printRefresh(r: RefreshReport, json: boolean | undefined): void {
  for (const w of r.warnings) process.stderr.write(`oscd: warning: ${w}\n`);
  if (json) printJson(r);
  else process.stdout.write(`channel ${r.channel}: sequence ${r.sequence} written (previous ${r.previousSequence}), same content, expires ${r.expiresAt}\n`);
}

export function registerPublish(program: Command): void {
  const cmd = program
    .command("publish")
    .description("build the selected hosts, sign and upload their closures to the binary caches, and write the channel's next signed manifest")
    .option("--channel <name>", "the channel to publish (default: main)")
    .option("--key <file>", `the fleet's secret key file (default: $${SIGNING_KEY_ENV})`)
    .option("--cache <url>", "publish to this cache instead of oscd.toml's caches (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--manifest-out <dir>", "also write the manifests into this directory (<dir>/<channel>.json)")
    .option("--valid-for <duration>", "how long machines may act on the manifest (its expiresAt): 90m, 12h, 7d, 2w", "7d")
    .option("--netboot", "also record each built host's netboot files (kernel, initrd, parameters) in its entry, as oscd image --format netboot does")
    .option("--refresh", "build nothing: sign the channel's current manifest (verified first) again with a new sequence and expiry")
    .option("--require-approval", "the channel's trust root needs more release signatures than this key: write the manifest anyway, to wait for oscd manifest sign")
    .option("--server <url>", "also hand the manifest to this control server (oscd server), which verifies it and rolls it out")
    .option("--server-token-file <file>", "file holding an admin token for --server (default: $OSCD_SERVER_TOKEN)");
  addBuildSourceOptions(cmd, "hosts to build: names, globs and @tags (default: all; the others keep their entries)")
    .addHelpText(
      "after",
      `
Examples:
  OSCD_SIGNING_KEY_FILE=/run/secrets/fleet.secret oscd publish
      CI in a checkout: build HEAD, upload to oscd.toml's caches, write channels/main.json
  oscd publish --ref v1.4.0 --channel stable --key fleet.secret
  oscd publish --cache file:///srv/nix-cache --manifest-out /srv/www/channels --json
  oscd publish --on web3 --key fleet.secret    # rebuild one host; the others are carried over
  oscd publish --netboot --key fleet.secret    # also the hosts' netboot files (docs/netboot.md)
  oscd publish --refresh --valid-for 7d         # from a daily CI job: keep the channel fresh
  oscd publish --server https://oscd.example.org --server-token-file /run/secrets/oscd-admin
  oscd publish --channel production --require-approval   # a 2-of-3 channel: waits for oscd manifest sign

Expiry: every manifest carries expiresAt (now + --valid-for). Machines refuse an expired
manifest as a hold-back (a stopped CI or a freeze attack), so publish, or --refresh, more
often than the validity. Publishing unchanged content writes a new sequence only when less
than half of the validity is left.

Caches: file:// (manifests in <cache>/channels/), http(s):// (uploads with PUT; manifests with
conditional PUT), ssh-ng:// and s3:// (closures only: use --manifest-out for the manifest).
Only what a cache lacks is uploaded; publishing the same commit again changes nothing.
A host that fails keeps its previous entry, and the command exits 1 naming it.`,
    )
    .action(async (o: PublishFlags) => {
      const validForMs = parseValidity(o.validFor);
      if (o.refresh) {
        if (o.on !== undefined) throw new UsageError("--refresh builds nothing, so it takes no --on", "refresh the whole channel, or publish the hosts (without --refresh)", "usage");
        if (o.netboot) throw new UsageError("--refresh builds nothing, so it takes no --netboot", "publish the hosts with --netboot (without --refresh)", "usage");
        const r = await refreshChannel({ repo: o.repo, ref: o.ref, channel: o.channel, keyFile: o.key, caches: o.cache, manifestOut: o.manifestOut, stateDir: o.stateDir, rootDir: o.rootsDir, validForMs, requireApproval: o.requireApproval });
        printRefresh(r, o.json);
        await tellServer(o, r.manifest, o.json);
        return;
      }
      const report = await publish({
        validForMs,
        ...buildSourceRequest(o),
        channel: o.channel,
        selection: o.on,
        keyFile: o.key,
        caches: o.cache,
        manifestOut: o.manifestOut,
        requireApproval: o.requireApproval,
        onProgress: printProgress,
        ...(o.netboot ? (await import("../../image/index.js")).netbootPublishing() : {}),
      });
      for (const w of report.warnings) process.stderr.write(`oscd: warning: ${w}\n`);
      if (o.json) {
        printJson(summary(report));
      } else {
        const rows = [["HOST", "SYSTEM", "BUILD", "ENTRY", "UPLOADED", "CLOSURE", "TIME", "TOPLEVEL"]];
        for (const h of report.hosts) {
          rows.push([h.name, h.system, h.build, h.entry, h.uploadedPaths > 0 ? `${h.uploadedPaths} (${formatBytes(h.uploadedBytes)})` : "0", formatBytes(h.closureSize), h.build === "built" ? formatMs(h.timeMs) : "-", h.toplevel ?? "-"]);
        }
        process.stdout.write(table(rows));
        const uploaded = report.caches.reduce((n, c) => n + c.uploadedPaths, 0);
        const what =
          report.status === "written"
            ? `sequence ${report.sequence} written${report.previousSequence ? ` (previous ${report.previousSequence})` : ""}`
            : report.status === "unchanged"
              ? `unchanged at sequence ${report.sequence}`
              : "no manifest written (no host could be published)";
        process.stdout.write(`channel ${report.channel}: ${what}; ${uploaded} path(s) uploaded${report.carriedOver.length ? `; carried over: ${report.carriedOver.join(", ")}` : ""}\n`);
      }
      const waiting = report.approval !== undefined && report.approval.have < report.approval.need;
      if (waiting && report.approval && report.status !== "not-written") {
        const where = report.locations[0]?.url.replace(/^file:\/\//, "") ?? `channels/${report.channel}.json`;
        process.stderr.write(`oscd: channel ${report.channel} sequence ${report.sequence} waits for approval: ${report.approval.have} of ${report.approval.need} release signatures; machines refuse it until then (other release key holders: oscd manifest sign ${where} --sign-key KEY)\n`);
      }
      if (report.status !== "not-written" && !waiting) await tellServer(o, report.manifest, o.json);
      if (report.failed.length > 0) {
        throw failedHostsError(
          report.hosts.filter((h) => h.build === "failed"),
          report.hosts.length,
        );
      }
    });
}
