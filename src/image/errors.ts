import { OscdError, UsageError } from "../core/errors.js";
import { quoteForMessage } from "../manifest/index.js";

/** Image and netboot refusals, each with a stable code (docs/image.md, docs/netboot.md). */

/** A name from a configuration, printed as it is when plain, quoted otherwise. */
export function shownName(n: string): string {
  return /^[A-Za-z0-9._+-]{1,64}$/.test(n) ? n : quoteForMessage(n, 80);
}

/** The host's configuration has no image of that format: names the ones it has. */
export class ImageAttributeMissingError extends UsageError {
  constructor(host: string, format: string, attribute: string, available: readonly string[] | undefined) {
    const has =
      available === undefined
        ? `${attribute} does not exist`
        : available.length === 0
          ? `${attribute} has no images`
          : `it has ${available.slice(0, 30).map(shownName).join(", ")}${available.length > 30 ? ", …" : ""}`;
    super(
      `${host} has no image of format ${shownName(format)} (${has})`,
      "pick a format the configuration has (--format), or expose it: system.build.images on NixOS, or set images = \"<attribute path with {host} and {format}>\" in oscd.toml for nixos-generators and older layouts",
      "image-no-attribute",
    );
  }
}

/** No attribute path for images is known for this layout. */
export class ImageAttributeUnknownError extends UsageError {
  constructor(host: string) {
    super(
      `oscd.toml says nothing about where ${host}'s images are, and its layout has no default`,
      'set [fleet] images = "<attribute path>" (or hosts.<name>.images), e.g. "images.{host}" or "packages.x86_64-linux.{host}-{format}"',
      "image-no-attribute-path",
    );
  }
}

/** The image's derivation is for a system no builder here has. */
export class ImagePlatformError extends OscdError {
  constructor(host: string, format: string, system: string, buildable: readonly string[]) {
    super("image-platform", `${host}'s ${shownName(format)} image is for ${shownName(system)}, and this machine builds ${buildable.map(shownName).join(", ") || "nothing"}`, {
      exitCode: 2,
      hint: "pass --builders with a remote builder for that system, enable emulation (boot.binfmt.emulatedSystems), or pick a format the host's platform builds",
    });
  }
}

/** The image's output holds no single file oscd could name as the image. */
export class ImageFileUnknownError extends OscdError {
  constructor(host: string, format: string, out: string, detail: string) {
    super("image-file-unknown", `cannot tell which file of ${out} is ${host}'s ${shownName(format)} image: ${detail}`, {
      hint: "give the image derivation passthru.filePath (NixOS's system.build.images have it), or make its output one file",
    });
  }
}

/** A toplevel's kernel parameters cannot go into an iPXE script. */
export class NetbootParamsError extends OscdError {
  constructor(host: string) {
    super("netboot-params-unsafe", `${host}'s kernel parameters hold characters an iPXE script cannot carry (control characters, non-ASCII or '$')`, {
      exitCode: 2,
      hint: "netboot parameters are printable ASCII without '$'; change boot.kernelParams",
    });
  }
}

/** A toplevel lacks what netbooting needs. */
export class NetbootIncompleteError extends OscdError {
  constructor(host: string, toplevel: string, missing: string) {
    super("netboot-incomplete", `${host}'s system ${toplevel} has no ${missing}, so it cannot be netbooted`, {
      exitCode: 2,
      hint: "netboot needs a NixOS system with kernel, initrd, kernel-params and init",
    });
  }
}
