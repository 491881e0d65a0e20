/**
 * Image stage (`oscd image`, `oscd netboot`): machine images and netboot files of a host,
 * evaluated and built with its toplevel, hashed, and recorded in the signed channel manifest.
 */
export { buildImage, imageFileName, netbootPublishing, type ImageOptions, type ImageReport } from "./image.js";
export { checkFormat, imageAttribute, imageRequest, netbootRamdiskAttribute, NETBOOT_FORMAT, DEFAULT_IMAGES } from "./attribute.js";
export { locateImageFile } from "./locate.js";
export { netbootEntryOf } from "./netboot-entry.js";
export * from "./errors.js";
export { writeNetbootStatic, checkBaseUrl, type StaticNetbootOptions, type StaticNetbootReport } from "./static.js";
export { checkManifestFiles, type FileCheck } from "./verify.js";
