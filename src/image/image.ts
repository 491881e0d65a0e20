import { copyFile, chmod, mkdir, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { randomBytes } from "node:crypto";
import { OscdError, UsageError } from "../core/errors.js";
import { buildHosts, hostTarget, pinFleet, type BuildProgress, type HostBuild, type PinnedFleet, type Targets } from "../builder/index.js";
import { checkFileAgainst, hashFile, HOST_NAME, MAX_NAME_LENGTH, storeFilePath, type ImageEntry, type NetbootEntry } from "../manifest/index.js";
import { publish, type HostExtras, type PublishOptions, type PublishReport } from "../publish/index.js";
import { STORE_DIR, type NixCallOptions } from "../nix/index.js";
import { checkFormat, imageBuild, imageRequest, NETBOOT_FORMAT, type ImageRequest } from "./attribute.js";
import { locateImageFile } from "./locate.js";
import { netbootEntryOf } from "./netboot-entry.js";
import { dryRunPlan, type DryRunPlan } from "../core/dry-run.js";

export interface ImageOptions extends Omit<PublishOptions, "selection" | "extra" | "entryExtras" | "onProgress"> {
  host: string;
  format: string;
  /** Build only: no signing, upload or manifest. */
  noPublish?: boolean;
  /** Copy the image (or the netboot files) here, checked against the hash after copying. */
  outDir?: string;
  onProgress?: PublishOptions["onProgress"];
  nix?: NixCallOptions;
}

export interface ImageReport {
  host: string;
  format: string;
  toplevel: string;
  commit: string;
  version?: string;
  image?: ImageEntry;
  netboot?: NetbootEntry;
  /** Files written to --out-dir. */
  written: string[];
  publish?: PublishReport;
  /** With `dryRun`: what a real run uploads, writes and copies (publish's plan, and the files of --out). */
  plan?: DryRunPlan;
}

/**
 * `oscd image`: the host's image of one format (or its netboot files), evaluated in the same
 * evaluation as its toplevel and built in the same build, hashed from the bytes built here,
 * and, unless `noPublish`, uploaded with the toplevel's closure and recorded, signed, in the
 * channel manifest next to the toplevel.
 */
export async function buildImage(opts: ImageOptions): Promise<ImageReport> {
  const format = checkFormat(opts.format);
  if (!HOST_NAME.test(opts.host) || opts.host.length > MAX_NAME_LENGTH) throw new UsageError(`${JSON.stringify(opts.host.slice(0, 80))} is not a host name`, "name one host of the fleet", "bad-host-name");
  const filePaths = new Map<string, string | null>();
  let request: ImageRequest | undefined;
  const requestFor = (p: PinnedFleet): ImageRequest => (request ??= imageRequest(p.fleet, opts.host, format));
  const extra = imageBuild((host) => (host === opts.host ? request : undefined), filePaths);
  let built: { image?: ImageEntry; netboot?: NetbootEntry } = {};
  const extrasOf = async (h: HostBuild): Promise<HostExtras | undefined> => {
    if (h.name !== opts.host || !h.toplevel) return undefined;
    built = await entryOf(h, format, filePaths.get(h.name) ?? null);
    return netbootOrImageExtras(format, built);
  };

  let toplevel: string;
  let commit: string;
  let version: string | undefined;
  let report: PublishReport | undefined;
  if (opts.noPublish) {
    const pinned = await pinFleet(opts);
    requestFor(pinned);
    const targets: Targets = hostTarget(pinned, opts.host);
    const b = await buildHosts(pinned, { ...opts, extra, onProgress: opts.onProgress as ((p: BuildProgress) => void) | undefined }, targets);
    const h = b.hosts[0] as HostBuild;
    if (h.status === "failed") throw h.error ?? new OscdError("image-failed", `${opts.host} failed to build`);
    await extrasOf(h);
    toplevel = h.toplevel as string;
    commit = b.commit;
    version = b.version;
  } else {
    report = await publish({
      ...opts,
      selection: opts.host,
      extraFor: (p: PinnedFleet) => {
        requestFor(p);
        return extra;
      },
      entryExtras: extrasOf,
    });
    const h = report.hosts.find((x) => x.name === opts.host);
    if (!h) throw new UsageError(`the fleet has no host ${opts.host}`, "name a host of oscd.toml or nixosConfigurations", "no-such-host");
    if (h.build === "failed") throw h.error ?? new OscdError("image-failed", `${opts.host} failed to build`);
    toplevel = h.toplevel as string;
    commit = report.commit;
    version = report.version;
  }
  if (opts.dryRun) {
    const plan = report?.plan ?? dryRunPlan("image", [`built ${opts.host}'s ${format} (GC roots kept, as oscd build)`]);
    plan.command = "image";
    if (opts.outDir) for (const f of outFiles(opts.host, format, built)) plan.steps.push({ action: "copy", target: join(opts.outDir, f.name), host: opts.host, detail: `${storeFilePath(f.entry)} (${f.entry.size} bytes, ${f.entry.hash})` });
    return { host: opts.host, format, toplevel, commit, version, ...built, written: [], publish: report, plan };
  }
  const written = opts.outDir ? await writeOut(opts.outDir, opts.host, format, built) : [];
  return { host: opts.host, format, toplevel, commit, version, ...built, written, publish: report };
}

/** The name `oscd image -o DIR` gives an image file (and `oscd manifest verify --images DIR` looks for). */
export function imageFileName(host: string, format: string, image: Pick<ImageEntry, "path" | "file">): string {
  return `${host}-${format}-${basename(image.file === "" ? image.path.slice(STORE_DIR.length + 34) : image.file)}`;
}

function netbootOrImageExtras(format: string, built: { image?: ImageEntry; netboot?: NetbootEntry }): HostExtras {
  if (built.image) return { images: { [format]: built.image }, paths: [built.image.path] };
  return { netboot: built.netboot, paths: built.netboot ? [built.netboot.kernel.path, built.netboot.initrd.path] : [] };
}

/**
 * `oscd publish --netboot`: every built host's netboot entry (with NixOS's netboot ramdisk when
 * its configuration has one, evaluated and built with the toplevels).
 */
export function netbootPublishing(): Pick<PublishOptions, "extraFor" | "entryExtras"> {
  const filePaths = new Map<string, string | null>();
  let fleet: PinnedFleet["fleet"] | undefined;
  const extra = imageBuild((host) => (fleet ? imageRequest(fleet, host, NETBOOT_FORMAT) : undefined), filePaths);
  return {
    extraFor: (p) => {
      fleet = p.fleet;
      return extra;
    },
    entryExtras: async (h) => netbootOrImageExtras(NETBOOT_FORMAT, await entryOf(h, NETBOOT_FORMAT, filePaths.get(h.name) ?? null)),
  };
}

async function entryOf(h: HostBuild, format: string, filePath: string | null): Promise<{ image?: ImageEntry; netboot?: NetbootEntry }> {
  const toplevel = h.toplevel as string;
  const d = h.extra?.derivations[0];
  if (format === NETBOOT_FORMAT) {
    const ramdisk = d ? { path: d.outPath, file: await locateImageFile(h.name, format, d.outPath, filePath) } : undefined;
    return { netboot: (await netbootEntryOf(h.name, toplevel, ramdisk)).entry };
  }
  if (!d) throw new OscdError("image-failed", `${h.name}'s ${format} image was not built`);
  const file = await locateImageFile(h.name, format, d.outPath, filePath);
  const { hash, size } = await hashFile(storeFilePath({ path: d.outPath, file }));
  return { image: { toplevel, path: d.outPath, file, hash, size } };
}

/** Copies each file into `dir` (temp name, checked against the signed-to-be hash, renamed). */
function outFiles(host: string, format: string, built: { image?: ImageEntry; netboot?: NetbootEntry }): { name: string; entry: { path: string; file: string; hash: string; size: number } }[] {
  const files: { name: string; entry: { path: string; file: string; hash: string; size: number } }[] = [];
  if (built.image) files.push({ name: imageFileName(host, format, built.image), entry: built.image });
  if (built.netboot) files.push({ name: `${host}-netboot-kernel`, entry: built.netboot.kernel }, { name: `${host}-netboot-initrd`, entry: built.netboot.initrd });
  return files;
}

async function writeOut(dir: string, host: string, format: string, built: { image?: ImageEntry; netboot?: NetbootEntry }): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files = outFiles(host, format, built);
  const out: string[] = [];
  for (const f of files) {
    const target = join(dir, f.name);
    const tmp = join(dir, `.${f.name}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      await copyFile(storeFilePath(f.entry), tmp);
      await chmod(tmp, 0o644);
      await checkFileAgainst(f.entry, tmp, `the copy of ${host}'s ${format} file`);
      await rename(tmp, target);
    } finally {
      await rm(tmp, { force: true });
    }
    out.push(target);
  }
  return out;
}
