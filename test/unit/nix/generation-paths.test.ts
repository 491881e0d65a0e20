import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { generationStorePaths, listGenerations } from "../../../src/nix/index.js";

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("generationStorePaths", () => {
  it("reads the same store paths as listGenerations, and only the profile's own generation links", async () => {
    dir = await mkdtemp(join(tmpdir(), "oscd-gens-"));
    const profile = join(dir, "system");
    await symlink("/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-a", join(dir, "system-1-link"));
    await symlink("/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-b", join(dir, "system-12-link"));
    await symlink("system-12-link", profile);
    // Another profile's generations and a name that only looks like one are not this profile's.
    await symlink("/nix/store/cccccccccccccccccccccccccccccccc-other", join(dir, "system-other-1-link"));
    await symlink("/nix/store/dddddddddddddddddddddddddddddddd-other", join(dir, "system-x-link"));
    const listed = (await listGenerations(profile)).map((g) => g.storePath);
    expect(generationStorePaths(profile).sort()).toEqual(listed.sort());
    expect(listed).toHaveLength(2);
  });

  it("is empty for a profile whose directory does not exist", () => {
    expect(generationStorePaths("/nonexistent-oscd/profiles/system")).toEqual([]);
  });
});
