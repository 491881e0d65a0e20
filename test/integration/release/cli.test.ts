import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunResult } from "../../../src/core/exec.js";
import type { ReleaseResult } from "../../../src/release/index.js";
import { makeCli } from "./cli.js";
import { ENV, FIXTURES, ReleaseRepos, writeEvent } from "./repos.js";

let repos: ReleaseRepos;
let oscd: Awaited<ReturnType<typeof makeCli>>;
beforeAll(async () => {
  repos = await ReleaseRepos.create();
  oscd = await makeCli(repos.root);
});
afterAll(async () => {
  await repos.cleanup();
});

const env = { ...ENV, GITHUB_REPOSITORY: "example-org/fleet" };
const inWork = { cwd: () => repos.work };

function expectOneError(r: RunResult, code: string, exit: number): void {
  expect(r.exitCode).toBe(exit);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(new RegExp(`^oscd: error\\[${code}\\]: \\S`));
  expect(lines[1]).toMatch(/^hint: \S/);
}

describe("oscd release and oscd init on the command line", () => {
  it("every command has --help with Examples", async () => {
    for (const cmd of [["release"], ["release", "bump"], ["release", "from-event"], ["init"]]) {
      const r = await oscd([...cmd, "--help"]);
      expect(r.exitCode, cmd.join(" ")).toBe(0);
      expect(r.stdout, cmd.join(" ")).toMatch(/\nExamples:\n {2}oscd /);
    }
  });

  it("release from-event prints why it did nothing and exits 0; --json says the same", async () => {
    const r = await oscd(["release", "from-event", join(FIXTURES, "pull_request.closed.not-merged.json"), "--push"], { cwd: inWork.cwd(), env });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("nothing to do: pull request #42 was closed without being merged\n");
    const j = await oscd(["release", "from-event", join(FIXTURES, "pull_request.closed.merged.no-release-label.json"), "--json"], { cwd: inWork.cwd(), env });
    expect(j.exitCode).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ status: "nothing-to-do", reason: expect.stringMatching(/has no release label/), pushed: false });
  });

  it("release from-event --push --json tags and pushes; GITHUB_REPOSITORY is checked", async () => {
    const event = await writeEvent(repos.root, ["release:minor", "release:patch"]);
    const wrong = await oscd(["release", "from-event", event, "--push"], { cwd: inWork.cwd(), env: { ...env, GITHUB_REPOSITORY: "someone/else" } });
    expectOneError(wrong, "release-wrong-repository", 3);
    const r = await oscd(["release", "from-event", event, "--push", "--json"], { cwd: inWork.cwd(), env });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout) as ReleaseResult;
    expect(out).toMatchObject({ status: "released", pushed: true, remote: "origin", branch: "main", pullRequest: { number: 42, title: "web1: enable nginx status page" } });
    expect(out.releases.map((x) => x.tag)).toEqual(["v1.3.0", "v1.3.1"]);
    expect(Object.keys(await repos.tags()).sort()).toEqual(["v1.3.0", "v1.3.1"]);
  });

  it("release bump prints what it tagged and pushed", async () => {
    const r = await oscd(["release", "bump", "major", "patch", "--push"], { cwd: inWork.cwd(), env });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^tagged v2\.0\.0 \(major: 1\.3\.1 → 2\.0\.0\) on [0-9a-f]{12}\ntagged v2\.0\.1 \(patch: 2\.0\.0 → 2\.0\.1\) on [0-9a-f]{12}\npushed main and 2 tags to origin\n$/);
    const j = await oscd(["release", "bump", "minor", "--json", "-C", repos.work], { env });
    expect(JSON.parse(j.stdout)).toMatchObject({ status: "released", pushed: false, releases: [{ tag: "v2.1.0" }] });
  });

  it("bad input: one error line and a hint, with the exit codes of DESIGN.md", async () => {
    expectOneError(await oscd(["release", "from-event", join(FIXTURES, "pull_request.closed.merged.truncated.json")], { cwd: inWork.cwd(), env }), "release-bad-event", 2);
    expectOneError(await oscd(["release", "from-event", await writeEvent(repos.root, ["release:mayor"])], { cwd: inWork.cwd(), env }), "release-unknown-label", 2);
    expectOneError(await oscd(["release", "bump", "mayor"], { cwd: inWork.cwd(), env }), "release-bad-level", 2);
    const tags = await repos.tags();
    await writeFile(join(repos.work, "scratch.txt"), "x\n");
    expectOneError(await oscd(["release", "bump", "patch", "--push"], { cwd: inWork.cwd(), env }), "release-dirty-tree", 3);
    expect(await repos.tags()).toEqual(tags);
    const strategy = await oscd(["release", "bump", "patch", "--strategy", "lowest"], { cwd: inWork.cwd(), env });
    expect(strategy.exitCode).toBe(2);
    expect(strategy.stderr).toMatch(/argument 'lowest' is invalid/);
  });
});
