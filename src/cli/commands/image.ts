import type { Command } from "commander";
import { buildImage, type ImageReport } from "../../image/index.js";
import { parseValidity, SIGNING_KEY_ENV } from "../../publish/index.js";
import { buildSourceRequest, maxJobsArg, positiveInt, type BuildSourceFlags } from "../build-options.js";
import { formatBytes, printJson } from "../output.js";
import { printProgress, tellServer } from "./publish.js";
import { warn } from "../progress.js";
import { redactUrl } from "../../publish/index.js";
import { dryRunHelp, printDryRun } from "../dry-run.js";

interface ImageFlags extends Omit<BuildSourceFlags, "on"> {
  format: string;
  out?: string;
  publish: boolean;
  channel?: string;
  signKey?: string;
  cache?: string[];
  manifestOut?: string;
  validFor: string;
  server?: string;
  serverTokenFile?: string;
  dryRun?: boolean;
}

function describe(r: ImageReport): string {
  const lines: string[] = [];
  if (r.image) lines.push(`${r.host} ${r.format}: ${r.image.path}${r.image.file ? `/${r.image.file}` : ""} (${formatBytes(r.image.size)}, ${r.image.hash})`);
  if (r.netboot) {
    lines.push(`${r.host} netboot: kernel ${r.netboot.kernel.path}/${r.netboot.kernel.file} (${r.netboot.kernel.hash})`);
    lines.push(`${r.host} netboot: initrd ${r.netboot.initrd.path}/${r.netboot.initrd.file} (${r.netboot.initrd.hash})`);
    lines.push(`${r.host} netboot: params ${r.netboot.params}`);
  }
  lines.push(`${r.host}: system ${r.toplevel} (${r.version ?? r.commit.slice(0, 12)})`);
  const p = r.publish;
  if (p) lines.push(`channel ${p.channel}: ${p.status === "written" ? `sequence ${p.sequence} written` : p.status === "unchanged" ? `unchanged at sequence ${p.sequence}` : "not written"}`);
  for (const f of r.written) lines.push(`wrote ${f}`);
  return lines.join("\n") + "\n";
}

export function registerImage(program: Command): void {
  const cmd = program
    .command("image")
    .description("build a host's machine image (or netboot files) with its system, hash it, and record it, signed, in the channel manifest")
    .argument("<host>", "the host whose image to build")
    .requiredOption("--format <format>", "the image format: an attribute of the host's system.build.images (qcow2, iso, …), or netboot")
    .option("-o, --out <dir>", "also copy the image (netboot: kernel and initrd) into this directory, checked against its hash")
    .option("--no-publish", "build and hash only: no signing, upload or manifest")
    .option("--channel <name>", "the channel whose manifest records the image (default: main)")
    .option("--sign-key <file>", `the fleet's secret key file (default: $${SIGNING_KEY_ENV})`)
    .option("--cache <url>", "publish to this cache instead of oscd.toml's caches (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--manifest-out <dir>", "also write the manifests into this directory (<dir>/<channel>.json)")
    .option("--valid-for <duration>", "how long machines may act on the manifest (its expiresAt)", "7d")
    .option("--server <url>", "also hand the manifest to this control server (oscd server), e.g. to netboot from it")
    .option("--server-token-file <file>", "file holding an admin token for --server (default: $OSCD_SERVER_TOKEN)");
  cmd
    .option("-C, --repo <path-or-url>", "the fleet repository (default: the current directory)")
    .option("--ref <ref>", "a tag, branch or commit (default: HEAD of the local checkout)")
    .option("--builders <spec>", "Nix remote builders, passed to Nix's --builders (e.g. 'ssh://builder aarch64-linux')")
    .option("--max-jobs <n>", "parallel local builds (Nix's --max-jobs; a number or auto)", maxJobsArg)
    .option("--state-dir <dir>", "where oscd keeps its git mirror (default: ~/.cache/oscd)")
    .option("--roots-dir <dir>", "GC root directory for the results (default: /nix/var/nix/gcroots/oscd)")
    .option("--timeout <minutes>", "time limit of the build step (default: 240)", positiveInt)
    .option("--dry-run", dryRunHelp("it pins, evaluates and builds the system and the image (GC roots kept) and asks the caches and the channel what they hold, but signs, uploads, writes and copies nothing"))
    .option("--json", "print a JSON summary on stdout")
    .addHelpText(
      "after",
      `
Examples:
  oscd image web1 --format qcow2 --dry-run                     # what would be uploaded and recorded where
  oscd image web1 --format qcow2 --sign-key fleet.secret       # build, upload, record in channels/main.json
  oscd image web1 --format iso --ref v1.4.0 -o ./images --no-publish
  oscd image pxe1 --format netboot --sign-key fleet.secret --server https://oscd.example.org

The image is evaluated in the same Nix evaluation as the host's system and built in the same
build. NixOS exposes images as config.system.build.images.<format>; for nixos-generators and
older layouts set images = "<attribute path with {host} and {format}>" in oscd.toml.
The manifest entry (hosts.<host>.images.<format>) holds the image's store path, its file, the
sha256 of the file's bytes (SRI form) and its size; oscd manifest verify checks the file.
netboot records the system's kernel, initrd and kernel parameters (hosts.<host>.netboot),
served by oscd server or written by oscd netboot -o DIR.`,
    )
    .action(async (host: string, o: ImageFlags) => {
      const r = await buildImage({
        host,
        format: o.format,
        outDir: o.out,
        noPublish: !o.publish,
        validForMs: parseValidity(o.validFor),
        ...buildSourceRequest(o),
        channel: o.channel,
        keyFile: o.signKey,
        caches: o.cache,
        manifestOut: o.manifestOut,
        onProgress: printProgress,
        dryRun: o.dryRun,
      });
      if (r.plan) {
        if (o.server !== undefined && r.plan.steps.some((s) => s.action === "write")) r.plan.steps.push({ action: "hand off", target: redactUrl(o.server), detail: "the new manifest" });
        return printDryRun({ ...r.plan, warnings: [...r.plan.warnings, ...(r.publish?.warnings ?? [])] }, o.json);
      }
      for (const w of r.publish?.warnings ?? []) warn(w);
      if (o.json) printJson({ host: r.host, format: r.format, toplevel: r.toplevel, commit: r.commit, version: r.version, image: r.image, netboot: r.netboot, written: r.written, channel: r.publish?.channel, status: r.publish?.status, sequence: r.publish?.sequence });
      else process.stdout.write(describe(r));
      if (r.publish && r.publish.status !== "not-written") await tellServer(o, r.publish.manifest, r.publish.rollout, o.json);
    });
}
