import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastAppliedSequence, recordAppliedSequence } from "../../../src/activate/channels.js";
import type { HostLayout } from "../../../src/activate/layout.js";

let layout: HostLayout;
beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), "oscd-channels-"));
  layout = { stateDir: dir, profile: join(dir, "profile"), gcrootDir: join(dir, "roots"), runDir: join(dir, "run") };
});
afterAll(async () => {
  await rm(layout.stateDir, { recursive: true, force: true });
});

describe("applied channel sequences", () => {
  it("remembers the highest sequence per channel and never lowers it", async () => {
    expect(await lastAppliedSequence(layout, "main")).toBeUndefined();
    await recordAppliedSequence(layout, "main", 4, "/nix/store/a");
    await recordAppliedSequence(layout, "main", 2, "/nix/store/b");
    await recordAppliedSequence(layout, "testing", 9, "/nix/store/c");
    expect(await lastAppliedSequence(layout, "main")).toBe(4);
    expect(await lastAppliedSequence(layout, "testing")).toBe(9);
  });

  it("a channel named like an Object method is only a key", async () => {
    expect(await lastAppliedSequence(layout, "toString")).toBeUndefined();
    expect(await lastAppliedSequence(layout, "constructor")).toBeUndefined();
    await recordAppliedSequence(layout, "constructor", 3, "/nix/store/d");
    expect(await lastAppliedSequence(layout, "constructor")).toBe(3);
  });

  it("a damaged record is refused, not read as 'never applied'", async () => {
    await writeFile(join(layout.stateDir, "channels.json"), JSON.stringify({ main: { sequence: "9" } }));
    await expect(lastAppliedSequence(layout, "main")).rejects.toMatchObject({ code: "state-corrupt", exitCode: 3 });
  });
});
