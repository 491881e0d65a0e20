import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readJson, writeJsonAtomic } from "../../../src/core/atomic.js";
import { OscdError } from "../../../src/core/errors.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-atomic-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("atomic state files", () => {
  it("writes whole files and leaves no temporary file behind", async () => {
    const p = join(dir, "state.json");
    await writeJsonAtomic(p, { a: 1 });
    await writeJsonAtomic(p, { a: 2, b: [1, 2] });
    expect(await readJson(p)).toEqual({ a: 2, b: [1, 2] });
    expect(await readdir(dir)).toEqual(["state.json"]);
    expect(await readFile(p, "utf8")).toMatch(/\n$/);
  });

  it("reads a missing file as undefined and names a damaged one", async () => {
    expect(await readJson(join(dir, "none.json"))).toBeUndefined();
    const bad = join(dir, "bad.json");
    await writeFile(bad, '{"state": "swi');
    const err = await readJson(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OscdError);
    expect((err as OscdError).code).toBe("state-corrupt");
    expect((err as OscdError).message).toContain(bad);
  });
});

describe("atomic state files against planted links", () => {
  it("never writes through a symlink planted at a temporary name, and makes new state directories 0700", async () => {
    const state = join(dir, "planted", "var-lib-oscd");
    await mkdir(state, { recursive: true });
    const victim = join(dir, "victim");
    await writeFile(victim, "precious\n");
    // The old temporary name was `.<name>.<pid>.<ms>.tmp`: plant links for the next seconds.
    const now = Date.now();
    for (let ms = now; ms < now + 3000; ms++) await symlink(victim, join(state, `.journal.json.${process.pid}.${ms}.tmp`));
    await writeJsonAtomic(join(state, "journal.json"), { state: "locked" });
    expect(await readFile(victim, "utf8")).toBe("precious\n");
    expect((await lstat(join(state, "journal.json"))).isFile()).toBe(true);
    expect(await readJson(join(state, "journal.json"))).toEqual({ state: "locked" });

    const fresh = join(dir, "fresh", "oscd");
    await writeJsonAtomic(join(fresh, "history", "x.json"), {});
    expect((await stat(fresh)).mode & 0o777).toBe(0o700);
    expect((await stat(join(fresh, "history"))).mode & 0o777).toBe(0o700);
  });
});
