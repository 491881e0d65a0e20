import { describe, expect, it } from "vitest";
import { parseDryRunSize, parseGcSummary } from "../../../src/nix/index.js";

describe("Nix's summaries", () => {
  it("reads nix-store --gc's closing line in 2.8 and newer forms", () => {
    expect(parseGcSummary("deleting '/nix/store/x'\n7 store paths deleted, 1.25 MiB freed\n")).toEqual({ paths: 7, freedBytes: Math.round(1.25 * 1048576) });
    expect(parseGcSummary("1 store paths deleted, 312.0 KiB freed")).toEqual({ paths: 1, freedBytes: 312 * 1024 });
    expect(parseGcSummary("3 store paths deleted, 2.0 GiB freed")).toEqual({ paths: 3, freedBytes: 2 * 1024 ** 3 });
    expect(parseGcSummary("0 store paths deleted, 0.00 MiB freed")).toEqual({ paths: 0, freedBytes: 0 });
    expect(parseGcSummary("finding garbage collector roots...")).toBeUndefined();
  });

  it("reads the dry run's fetch estimate in 2.8 and newer forms", () => {
    expect(parseDryRunSize("these 5 paths will be fetched (0.01 MiB download, 0.05 MiB unpacked):\n  /nix/store/…")).toEqual({ paths: 5, narBytes: Math.ceil(0.05 * 1048576) });
    expect(parseDryRunSize("this path will be fetched (3.4 KiB download, 12.5 KiB unpacked):")).toEqual({ paths: 1, narBytes: Math.ceil(12.5 * 1024) });
    expect(parseDryRunSize("these 1204 paths will be fetched (812.3 MiB download, 3.1 GiB unpacked):")).toEqual({ paths: 1204, narBytes: Math.ceil(3.1 * 1024 ** 3) });
    expect(parseDryRunSize("these 2 derivations will be built:")).toBeUndefined();
  });
});
