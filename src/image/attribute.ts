import { z } from "zod";
import type { ExtraBuild, ExtraDerivation } from "../builder/index.js";
import { OscdError, UsageError } from "../core/errors.js";
import { fleetHost, hostAttribute, type Fleet } from "../fleet/index.js";
import { IMAGE_FORMAT, isStoreRelativeFile } from "../manifest/index.js";
import { attrPathExpr, isStorePath } from "../nix/index.js";
import { ImageAttributeMissingError, ImageAttributeUnknownError, ImagePlatformError } from "./errors.js";

/** `netboot` is not an image attribute: it is the toplevel's own kernel, initrd and parameters. */
export const NETBOOT_FORMAT = "netboot";

/** Where current NixOS exposes a configuration's images (`nixos-rebuild build-image`). */
export const DEFAULT_IMAGES = { flake: "nixosConfigurations.{host}.config.system.build.images", classic: undefined } as const;

export function checkFormat(format: string): string {
  if (typeof format !== "string" || !IMAGE_FORMAT.test(format)) {
    throw new UsageError(`${JSON.stringify(String(format).slice(0, 80))} is not an image format name`, "a format has up to 63 letters, digits, '_' and '-' (qcow2, iso, sd-card, netboot)", "bad-image-format");
  }
  return format;
}

/**
 * The attribute path of a host's image: a template with `{format}` names the image itself
 * (nixos-generators' `packages.<system>.<host>-<format>`), one without names the set the
 * format is looked up in (and listed when it is missing).
 */
export function imageAttribute(fleet: Fleet, host: string, format: string): { set?: string; direct?: string } {
  const template = fleetHost(fleet.config, host)?.images ?? fleet.config.fleet.images ?? DEFAULT_IMAGES[fleet.layout];
  if (template === undefined) throw new ImageAttributeUnknownError(host);
  const t = template.replaceAll("{host}", host);
  return t.includes("{format}") ? { direct: t.replaceAll("{format}", format) } : { set: t };
}

/** What the evaluation answers for one host: the image set's names (to say which exist) and the image. */
const evaluatedImage = z.object({
  names: z.array(z.string()).nullable(),
  image: z.object({ drv: z.string(), out: z.string(), system: z.string().nullable(), filePath: z.string().nullable() }).nullable(),
});

export interface ImageRequest {
  host: string;
  format: string;
  attribute: { set?: string; direct?: string };
  /** Netboot: the attribute of NixOS's `system.build.netbootRamdisk` (an initrd holding the store), used when the configuration has it. */
  ramdisk?: string;
}

/**
 * Where a host's netboot ramdisk would be: next to its toplevel when the toplevel's attribute
 * has NixOS's shape (`….config.system.build.toplevel`); nowhere otherwise (the toplevel's
 * own initrd is used).
 */
export function netbootRamdiskAttribute(fleet: Fleet, host: string): string | undefined {
  const top = hostAttribute(fleet, host);
  const suffix = ".config.system.build.toplevel";
  return top.endsWith(suffix) ? `${top.slice(0, -"toplevel".length)}netbootRamdisk` : undefined;
}

/** The request of `oscd image HOST --format FORMAT` (or of netboot files for `publish --netboot`). */
export function imageRequest(fleet: Fleet, host: string, format: string): ImageRequest {
  if (format === NETBOOT_FORMAT) return { host, format, attribute: {}, ramdisk: netbootRamdiskAttribute(fleet, host) };
  return { host, format, attribute: imageAttribute(fleet, host, format) };
}

/** The attribute path as one string, for messages. */
export function attributeText(a: ImageRequest["attribute"], format: string): string {
  return a.direct ?? `${a.set}.${format}`;
}

/**
 * The per-host Nix expression and its interpretation, for `buildHosts`' `extra`: the image is
 * evaluated in the same evaluation as the host's toplevel and built in the same build.
 */
export function imageBuild(requestOf: (host: string) => ImageRequest | undefined, filePaths: Map<string, string | null>): ExtraBuild {
  return {
    expr: (t, root) => {
      const r = t.name === undefined ? undefined : requestOf(t.name);
      if (!r) return "null";
      const fields = `x: (d x) // { filePath = x.passthru.filePath or x.filePath or null; }`;
      if (r.format === NETBOOT_FORMAT) {
        if (!r.ramdisk) return "null";
        return `let img = ${root}${attrPathExpr(r.ramdisk)} or null; f = ${fields}; in { names = null; image = if img == null then null else f img; }`;
      }
      if (r.attribute.direct) return `let img = ${root}${attrPathExpr(r.attribute.direct)} or null; f = ${fields}; in { names = null; image = if img == null then null else f img; }`;
      return `let set = ${root}${attrPathExpr(r.attribute.set as string)} or null; f = ${fields}; in { names = if builtins.isAttrs set then builtins.attrNames set else null; image = if builtins.isAttrs set && set ? ${JSON.stringify(r.format)} then f set.${JSON.stringify(r.format)} else null; }`;
    },
    derivations: (host, value): ExtraDerivation[] => {
      const r = requestOf(host);
      if (!r) return [];
      if (r.format === NETBOOT_FORMAT) {
        const ramdisk = value === null ? null : evaluatedImage.parse(value).image;
        if (!ramdisk || !isStorePath(ramdisk.drv) || !isStorePath(ramdisk.out)) return [];
        filePaths.set(host, ramdisk.filePath);
        return [{ label: "netboot ramdisk", drvPath: ramdisk.drv, outPath: ramdisk.out, system: ramdisk.system ?? "" }];
      }
      const v = evaluatedImage.parse(value);
      if (!v.image) throw new ImageAttributeMissingError(host, r.format, r.attribute.direct ?? (r.attribute.set as string), v.names ?? undefined);
      if (!isStorePath(v.image.drv) || !isStorePath(v.image.out)) throw new OscdError("not-a-derivation", `${attributeText(r.attribute, r.format)} did not evaluate to a derivation with store paths`, { exitCode: 2 });
      if (v.image.filePath !== null && !isStoreRelativeFile(v.image.filePath)) {
        throw new OscdError("image-file-unknown", `${host}'s ${r.format} image names its file as ${JSON.stringify(v.image.filePath.slice(0, 200))}, which is not a path inside its output`, { hint: "passthru.filePath is relative to the output, without '..'" });
      }
      filePaths.set(host, v.image.filePath);
      return [{ label: `${r.format} image`, drvPath: v.image.drv, outPath: v.image.out, system: v.image.system ?? "" }];
    },
    unbuildable: (host, d, buildable) => new ImagePlatformError(host, requestOf(host)?.format ?? d.label, d.system, buildable),
  };
}
