import { chmod, chown, mkdir, mkdtemp, readdir, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userCacheDir } from "../../../src/core/user-cache.js";

/*
 * The user's cache folder holds compiled code Node runs and the Nix version oscd believes: it is
 * used only where nobody but the user (or root) can write. The safe base lives in the checkout
 * (.test-work, whose folders are root's and 0755 here); /tmp is the unsafe one.
 */
const REPO = join(import.meta.dirname, "..", "..", "..");
let base: string;
let unsafe: string;
beforeAll(async () => {
  expect(process.geteuid?.(), "these tests chown folders: they need root").toBe(0);
  await mkdir(join(REPO, ".test-work"), { recursive: true });
  base = await mkdtemp(join(REPO, ".test-work", "user-cache-"));
  unsafe = await mkdtemp(join(tmpdir(), "oscd-user-cache-"));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
  await rm(unsafe, { recursive: true, force: true });
});

describe("userCacheDir", () => {
  it("is $XDG_CACHE_HOME/oscd, made 0700, when every folder above is root's or the user's and not writable by others", async () => {
    const dir = userCacheDir({ XDG_CACHE_HOME: join(base, "xdg"), HOME: join(base, "home") });
    expect(dir).toBe(join(base, "xdg", "oscd"));
    expect((await stat(dir!)).mode & 0o777).toBe(0o700);
  });

  it("is ~/.cache/oscd without XDG_CACHE_HOME (or with a relative one)", async () => {
    await mkdir(join(base, "home"), { mode: 0o700 });
    expect(userCacheDir({ HOME: join(base, "home") })).toBe(join(base, "home", ".cache", "oscd"));
    expect(userCacheDir({ XDG_CACHE_HOME: "relative/cache", HOME: join(base, "home") })).toBe(join(base, "home", ".cache", "oscd"));
    expect(userCacheDir({})).toBeUndefined();
    expect(userCacheDir({ HOME: "relative" })).toBeUndefined();
  });

  it("refuses a folder under a world-writable one (/tmp), and makes nothing there", async () => {
    // Another user could have made /tmp/…/oscd first, and put compiled code in it.
    expect(userCacheDir({ XDG_CACHE_HOME: join(unsafe, "cache") })).toBeUndefined();
    expect(await readdir(unsafe)).toEqual([]);
  });

  it("refuses a group-writable folder on the way", async () => {
    const gw = join(base, "group-writable");
    await mkdir(join(gw, "cache"), { recursive: true });
    await chmod(gw, 0o775);
    expect(userCacheDir({ XDG_CACHE_HOME: join(gw, "cache") })).toBeUndefined();
    await chmod(gw, 0o755);
    expect(userCacheDir({ XDG_CACHE_HOME: join(gw, "cache") })).toBe(join(gw, "cache", "oscd"));
  });

  it("refuses a folder another user owns (a home kept by sudo), the cache folder itself included", async () => {
    const home = join(base, "other-home");
    await mkdir(home, { mode: 0o700 });
    await chown(home, 65534, 65534);
    expect(userCacheDir({ HOME: home })).toBeUndefined();
    const mine = join(base, "mine");
    await mkdir(join(mine, "oscd"), { recursive: true, mode: 0o700 });
    expect(userCacheDir({ XDG_CACHE_HOME: mine })).toBe(join(mine, "oscd"));
    await chown(join(mine, "oscd"), 65534, 65534);
    expect(userCacheDir({ XDG_CACHE_HOME: mine })).toBeUndefined();
  });

  it("follows a symbolic link and judges where it leads", async () => {
    const linked = join(base, "linked");
    await mkdir(linked, { mode: 0o700 });
    await symlink(unsafe, join(linked, "oscd"));
    expect(userCacheDir({ XDG_CACHE_HOME: linked })).toBeUndefined();
  });
});
