import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitInfo, log } from "../../../src/git/index.js";
import { AUTHOR, commit, g, initRepo, makeFleetRepo, TempDirs, type FleetRepo } from "./fixtures.js";

const tmp = new TempDirs();
let repo: FleetRepo;

beforeAll(async () => {
  repo = await makeFleetRepo(join(await tmp.make("history"), "fleet"));
});
afterAll(() => tmp.cleanup());

describe("commitInfo", () => {
  it("returns id, author, ISO date and subject", async () => {
    const info = await commitInfo(repo.dir, "v1.2.0");
    expect(info.id).toBe(repo.c.two);
    expect(info.author).toBe(AUTHOR.name);
    expect(info.authorEmail).toBe(AUTHOR.email);
    expect(info.subject).toBe("second: add db1");
    expect(info.date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    expect(info.date).toBe(await g(repo.dir, ["show", "-s", "--format=%aI", repo.c.two]));
    expect(Date.parse(info.date)).toBeGreaterThan(Date.parse((await commitInfo(repo.dir, "v1.0.0")).date));
  });

  it("keeps only the first line of a long message, unusual characters intact", async () => {
    const dir = await initRepo(join(await tmp.make("msg"), "r"));
    const id = await commit(dir, "fix: café | tab\there; \"quotes\"\n\nbody line\nmore", { "a.txt": "a\n" });
    expect(await commitInfo(dir, id)).toMatchObject({ id, subject: "fix: café | tab\there; \"quotes\"" });
  });

  it("names an unknown commit", async () => {
    await expect(commitInfo(repo.dir, "deadbeef")).rejects.toMatchObject({ code: "git-unknown-ref", ref: "deadbeef" });
  });
});

describe("log", () => {
  it("lists from..to newest first", async () => {
    const entries = await log(repo.dir, "v1.0.0", "v2.0.0-rc.1");
    expect(entries.map((e) => e.id)).toEqual([repo.c.four, repo.c.three, repo.c.two]);
    expect(entries.map((e) => e.subject)).toEqual(["fourth: try 2.0", "third: tune web1", "second: add db1"]);
    expect(entries[0]?.author).toBe(AUTHOR.name);
  });

  it("excludes commits only on the other side", async () => {
    expect((await log(repo.dir, "main", "feature")).map((e) => e.id)).toEqual([repo.c.feature]);
    expect(await log(repo.dir, "v1.10.0", "v1.10.0")).toEqual([]);
  });

  it("lists all history when from is undefined, limited by maxCount", async () => {
    expect((await log(repo.dir, undefined, "v1.2.0")).map((e) => e.id)).toEqual([repo.c.two, repo.c.one]);
    expect((await log(repo.dir, undefined, "main", { maxCount: 1 })).map((e) => e.id)).toEqual([repo.c.four]);
  });

  it("names an unknown ref", async () => {
    await expect(log(repo.dir, "v0.0.1", "main")).rejects.toMatchObject({ code: "git-unknown-ref", ref: "v0.0.1" });
  });
});
