import type { ManifestBody } from "../../src/manifest/index.js";

/** Two hosts' toplevels the manifest unit tests share (fake store paths, never built). */
export const WEB1_TOPLEVEL = "/nix/store/00000000000000000000000000000000-nixos-system-web1-1.2.0";
export const PI_TOPLEVEL = "/nix/store/11111111111111111111111111111111-nixos-system-pi-1.2.0";

/**
 * A release body as `oscd publish` writes one (channel main, #4, version 1.2.0, web1 and pi,
 * one file cache), unsigned; `over` replaces whole fields.
 */
export function manifestBody(over: Partial<ManifestBody> = {}): ManifestBody {
  return {
    schema: "oscd.manifest/v1",
    channel: "main",
    sequence: 4,
    version: "1.2.0",
    commit: "a".repeat(40),
    ref: "v1.2.0",
    createdAt: "2025-01-02T03:04:05.000Z",
    hosts: {
      web1: { toplevel: WEB1_TOPLEVEL, system: "x86_64-linux" },
      pi: { toplevel: PI_TOPLEVEL, system: "aarch64-linux" },
    },
    caches: ["file:///srv/cache"],
    ...over,
  };
}
