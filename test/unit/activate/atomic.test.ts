import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readJson, writeJsonAtomic } from "../../../src/activate/atomic.js";
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
