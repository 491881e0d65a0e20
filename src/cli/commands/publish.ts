import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { addFinishGcOptions, finishGc } from "../gc-options.js";
import { InvalidArgumentError, type Command } from "commander";
import { parseWaves, type RolloutPlan } from "../../plan/index.js";
import type { HandOff } from "../../server-client/index.js";
import { hostNames } from "../confirm.js";
import { planLine } from "../rollout-format.js";
import { UsageError } from "../../core/errors.js";
import { parseValidity, publish, redactUrl, refreshChannel, serializeManifest, SIGNING_KEY_ENV, type Manifest, type PublishProgress, type PublishReport, type RefreshReport } from "../../publish/index.js";
import { formatBytes, formatMs, printJson, table } from "../output.js";
import { failedHostsError, hostError, printBuildProgress, printPinned } from "./build.js";
import { progressSay, warn } from "../progress.js";
import type { DryRunPlan } from "../../core/dry-run.js";
import { dryRunHelp, printDryRun } from "../dry-run.js";
import { addBuildSourceOptions, buildSourceRequest, type BuildSourceFlags } from "../build-options.js";

export function printProgress(p: PublishProgress): void {
  const say = progressSay();
  switch (p.step) {
    case "pin":
      printPinned(p);
      return;
    case "upload":
      if (p.state === "uploading") say(p.host, "upload", `uploading ${p.paths} path(s) (${formatBytes(p.bytes)}) to ${p.url}`);
      else if (p.state === "uploaded") say(p.host, "upload", `uploaded to ${p.url}`);
      else say(p.host, "upload", `already in ${p.url}`);
      return;
    case "manifest":
      say("oscd", "manifest", `${p.state === "written" ? `written: sequence ${p.sequence}` : p.state === "unchanged" ? `unchanged at sequence ${p.sequence}` : `holds a newer sequence than ${p.sequence}; left as it is`} in ${p.url}`);
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
  signKey?: string;
  cache?: string[];
  manifestOut?: string;
  validFor: string;
  refresh?: boolean;
  netboot?: boolean;
  server?: string;
  serverTokenFile?: string;
  gc?: boolean;
  gcMaxFreed?: string;
  requireApproval?: boolean;
  rollout?: true | Pick<RolloutPlan, "canary" | "waves">;
  immediate?: boolean;
  dryRun?: boolean;
}

/** The steps after the manifest a dry run adds: the control server's hand-off and --gc. */
function laterSteps(o: PublishFlags, plan: DryRunPlan): DryRunPlan {
  if (o.server !== undefined && plan.steps.some((s) => s.action === "write")) {
    const then = o.immediate ? "serve it to every host at once" : o.rollout === true ? "start a rollout with the channel's plan" : o.rollout ? `start a rollout: ${planLine(o.rollout)}` : "wait for a rollout";
    plan.steps.push({ action: "hand off", target: redactUrl(o.server), detail: `the new manifest and the channel's rollout plan; the server would ${then}` });
  }
  if (o.gc) plan.steps.push({ action: "gc", target: o.rootsDir ?? "/nix/var/nix/gcroots/oscd", detail: `drop old snapshot roots and collect garbage${o.gcMaxFreed ? ` (up to ${o.gcMaxFreed})` : ""}; oscd gc --roots --dry-run shows which` });
  return plan;
}

/** `--rollout` and `--immediate` say what the server does with the release; both need `--server`. */
function checkServerFlags(o: PublishFlags): void {
  if ((o.rollout !== undefined || o.immediate) && o.server === undefined) throw new UsageError("--rollout and --immediate tell a control server what to do with the release", "add --server URL (and --server-token-file FILE)", "usage");
  if (o.rollout !== undefined && o.immediate) throw new UsageError("--rollout and --immediate exclude each other", "--rollout moves the release wave by wave, --immediate to every host at once", "usage");
}

/**
 * With --server, the control server is told of the manifest just written (it verifies it
 * itself), with the channel's plan; then the release starts moving (--rollout, --immediate), or
 * the output says what it waits for and the command that moves it.
 */
export async function tellServer(o: PublishFlags, manifest: Manifest | undefined, plan: RolloutPlan | undefined, json: boolean | undefined, views?: readonly Manifest[]): Promise<HandOff | undefined> {
  if (o.server === undefined || manifest === undefined) return undefined;
  const api = await import("../../server-client/index.js");
  const c = new api.ServerClient(o.server, await api.readServerToken(o.serverTokenFile));
  const h = await api.handOff(c, serializeManifest(manifest), { plan, planSource: `oscd.toml at ${manifest.commit.slice(0, 12)} (oscd publish)`, immediate: o.immediate, rollout: o.rollout === undefined ? undefined : o.rollout === true ? {} : o.rollout, views: views?.map(serializeManifest) });
  if (!json) for (const line of handOffLines(h, c.shown)) process.stderr.write(`oscd: ${line}\n`);
  return h;
}

/** What the server did with the release, and what moves it when nothing did yet. */
export function handOffLines(h: HandOff, server: string): string[] {
  const r = h.release;
  const name = `${r.channel} #${r.sequence}${r.version ? ` (${r.version})` : ""}`;
  const lines = [`server ${server}: ${name} ${r.created ? "added as a release" : "already known"}${r.state === "complete" ? ", served to every host" : ""}`];
  if (h.rollout) {
    lines.push(`rollout ${h.rollout.id}: ${h.rollout.waves.map((w) => `${w.name} (${hostNames(w.hosts)})`).join(" → ")}`);
    lines.push(`follow it: oscd rollout status ${h.rollout.id.slice(0, 8)} --watch --server ${server}`);
  } else if (h.waiting) {
    const w = h.waiting;
    const to = `${r.channel}#${r.sequence}`;
    lines.push(`${name} waits for a rollout: hosts keep ${w.servedToAll ? `${w.servedToAll.version} (#${w.servedToAll.sequence})` : "what they run (the channel has no release served to every host yet)"} until one starts`);
    if (w.rollout) lines.push(`channel ${r.channel} has rollout ${w.rollout.id.slice(0, 8)} ${w.rollout.state} (of #${w.rollout.sequence}): abort it first with \`oscd rollout abort ${w.rollout.id.slice(0, 8)} --server ${server}\``);
    lines.push(`start it: oscd rollout start ${to} --server ${server}${w.plan ? `   (the channel's plan: ${planLine(w.plan)})` : ` --waves 'canary=HOST; rest'   (the channel has no plan: [channels.${r.channel}.rollout] in oscd.toml)`}`);
    lines.push(`or every host at once: oscd rollout start ${to} --immediate --server ${server}`);
  }
  return lines;
}

function printRefresh(r: RefreshReport, json: boolean | undefined, server: HandOff | undefined): void {
  for (const w of r.warnings) warn(w);
  if (json) printJson({ ...r, ...(server ? { server } : {}) });
  else process.stdout.write(`channel ${r.channel}: sequence ${r.sequence} written (previous ${r.previousSequence}), same content, expires ${r.expiresAt}\n`);
}

export function registerPublish(program: Command): void {
  const cmd = program
    .command("publish")
    .description("build the selected hosts, sign and upload their closures to the binary caches, and write the channel's next signed manifest")
    .option("--channel <name>", "the channel to publish (default: main)")
    .option("--sign-key <file>", `the fleet's secret key file (default: $${SIGNING_KEY_ENV})`)
    .option("--cache <url>", "publish to this cache instead of oscd.toml's caches (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--manifest-out <dir>", "also write the manifests into this directory (<dir>/<channel>.json)")
    .option("--valid-for <duration>", "how long machines may act on the manifest (its expiresAt): 90m, 12h, 7d, 2w", "7d")
    .option("--netboot", "also record each built host's netboot files (kernel, initrd, parameters) in its entry, as oscd image --format netboot does")
    .option("--refresh", "build nothing: sign the channel's current manifest (verified first) again with a new sequence and expiry")
    .option("--require-approval", "the channel's trust root needs more release signatures than this key: write the manifest anyway, to wait for oscd manifest sign")
    .option("--server <url>", "also hand the manifest (and the channel's rollout plan) to this control server, which verifies it; it then waits for a rollout unless --rollout or --immediate")
    .option("--server-token-file <file>", "file holding an operator or admin token for --server (default: $OSCD_SERVER_TOKEN)")
    .option("--rollout [waves]", "with --server: start a rollout at once, with these waves ('canary=web1; @web; rest') or, without, the channel's plan", (v: string) => {
      try {
        return parseWaves(v);
      } catch (e) {
        throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
      }
    })
    .option("--immediate", "with --server: serve the release to every host at once (no rollout)")
    .option("--dry-run", dryRunHelp("it pins, evaluates and builds (GC roots kept, as oscd build) and asks the caches and the channel what they hold, but signs, uploads and writes nothing (no manifest, no cache entry, nothing on the server)"));
  addFinishGcOptions(cmd);
  addBuildSourceOptions(cmd, "hosts to build: names, globs and @tags (default: all; the others keep their entries)")
    .addHelpText(
      "after",
      `
Examples:
  OSCD_SIGNING_KEY_FILE=/run/secrets/fleet.secret oscd publish
      CI in a checkout: build HEAD, upload to oscd.toml's caches, write channels/main.json
  oscd publish --ref v1.4.0 --channel stable --sign-key fleet.secret
  oscd publish --cache file:///srv/nix-cache --manifest-out /srv/www/channels --json
  oscd publish --on web3 --sign-key fleet.secret    # rebuild one host; the others are carried over
  oscd publish --netboot --sign-key fleet.secret    # also the hosts' netboot files (docs/netboot.md)
  oscd publish --refresh --valid-for 7d         # from a daily CI job: keep the channel fresh
  oscd publish --server https://oscd.example.org --server-token-file /run/secrets/oscd-operator
      the release waits for a rollout; the output says how to start one
  oscd publish --server https://oscd.example.org --rollout 'canary=web1; @web; rest'
  oscd publish --server https://oscd.example.org --rollout      # the channel's [channels.main.rollout]
  oscd publish --server https://oscd.example.org --immediate    # every host at once
  oscd publish --gc --gc-max-freed 20G          # CI runner: then drop old snapshot roots and collect garbage
  oscd publish --channel production --require-approval   # a 2-of-3 channel: waits for oscd manifest sign
  oscd publish --dry-run --key fleet.secret    # what would be uploaded where, and the manifest's next sequence

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
      checkServerFlags(o);
      const validForMs = parseValidity(o.validFor);
      if (o.refresh) {
        if (o.on !== undefined) throw new UsageError("--refresh builds nothing, so it takes no --on", "refresh the whole channel, or publish the hosts (without --refresh)", "usage");
        if (o.netboot) throw new UsageError("--refresh builds nothing, so it takes no --netboot", "publish the hosts with --netboot (without --refresh)", "usage");
        const common = { repo: o.repo, ref: o.ref, channel: o.channel, keyFile: o.signKey, caches: o.cache, manifestOut: o.manifestOut, stateDir: o.stateDir, rootDir: o.rootsDir, validForMs, requireApproval: o.requireApproval };
        if (o.dryRun) return printDryRun(laterSteps(o, await refreshChannel({ ...common, dryRun: true })), o.json);
        const r = await refreshChannel({ ...common, hostViews: o.server !== undefined });
        const h = await tellServer(o, r.manifest, undefined, o.json, r.views);
        printRefresh(r, o.json, h);
        return;
      }
      const report = await publish({
        validForMs,
        ...buildSourceRequest(o),
        channel: o.channel,
        selection: o.on,
        keyFile: o.signKey,
        caches: o.cache,
        manifestOut: o.manifestOut,
        hostViews: o.server !== undefined,
        requireApproval: o.requireApproval,
        onProgress: printProgress,
        dryRun: o.dryRun,
        ...(o.netboot ? (await import("../../image/index.js")).netbootPublishing() : {}),
      });
      if (report.plan) {
        printDryRun(laterSteps(o, { ...report.plan, warnings: [...report.plan.warnings, ...report.warnings] }), o.json);
        if (report.failed.length > 0) throw failedHostsError(report.hosts.filter((h) => h.build === "failed"), report.hosts.length);
        return;
      }
      for (const w of report.warnings) warn(w);
      const waiting = report.approval !== undefined && report.approval.have < report.approval.need;
      const server = report.status !== "not-written" && !waiting ? await tellServer(o, report.manifest, report.rollout, o.json, report.views) : undefined;
      if (o.json) {
        printJson({ ...(summary(report) as object), ...(server ? { server } : {}) });
      } else {
        const rows = [["HOST", "SYSTEM", "BUILD", "ENTRY", "UPLOADED", "CLOSURE", "TIME", "TOPLEVEL"]];
        for (const h of report.hosts) {
          rows.push([h.name, h.system, h.build, h.entry, h.uploadedPaths > 0 ? `${h.uploadedPaths} (${formatBytes(h.uploadedBytes)})` : "0", formatBytes(h.closureSize), h.build === "built" ? formatMs(h.timeMs) : "-", h.toplevel ?? "-"]);
        }
        process.stdout.write(table(rows, [2, 3]));
        const uploaded = report.caches.reduce((n, c) => n + c.uploadedPaths, 0);
        const what =
          report.status === "written"
            ? `sequence ${report.sequence} written${report.previousSequence ? ` (previous ${report.previousSequence})` : ""}`
            : report.status === "unchanged"
              ? `unchanged at sequence ${report.sequence}`
              : "no manifest written (no host could be published)";
        process.stdout.write(`channel ${report.channel}: ${what}; ${uploaded} path(s) uploaded${report.carriedOver.length ? `; carried over: ${report.carriedOver.join(", ")}` : ""}\n`);
      }
      if (waiting && report.approval && report.status !== "not-written") {
        const where = report.locations[0]?.url.replace(/^file:\/\//, "") ?? `channels/${report.channel}.json`;
        warn(`channel ${report.channel} sequence ${report.sequence} waits for approval: ${report.approval.have} of ${report.approval.need} release signatures; machines refuse it until then (other release key holders: oscd manifest sign ${where} --sign-key KEY)`);
      }
      const channelDirs = report.locations.map((l) => l.url).filter((u) => u.startsWith("file://")).map((u) => dirname(fileURLToPath(u)));
      await finishGc(o, { rootDir: o.rootsDir, manifestDirs: channelDirs });
      if (report.failed.length > 0) {
        throw failedHostsError(
          report.hosts.filter((h) => h.build === "failed"),
          report.hosts.length,
        );
      }
    });
}
