import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { releaseFromEvent, type FromEventOptions, type ReleaseResult } from "../../../src/release/index.js";
import { ENV, FIXTURES, git, ReleaseRepos, reposPerTest, writeEvent } from "./repos.js";

const setup = reposPerTest();

const REPO = "example-org/fleet";

function fromEvent(r: ReleaseRepos, eventFile: string, extra: Partial<FromEventOptions> = {}): Promise<ReleaseResult> {
  return releaseFromEvent({ repoDir: r.work, eventFile, push: true, env: ENV, expectedRepository: REPO, retryDelayMs: 0, ...extra });
}

async function fromEventError(r: ReleaseRepos, eventFile: string, extra: Partial<FromEventOptions> = {}): Promise<{ code: string; exitCode: number; message: string }> {
  try {
    await fromEvent(r, eventFile, extra);
  } catch (e) {
    return e as { code: string; exitCode: number; message: string };
  }
  throw new Error("expected from-event to fail");
}

async function snapshot(r: ReleaseRepos) {
  return { work: await r.head(r.work), origin: await r.head(r.origin, "main"), workTags: await r.tags(r.work), originTags: await r.tags() };
}

describe("oscd release from-event: events that release nothing (exit 0, says why)", () => {
  it.each([
    ["pull_request.closed.not-merged.json", "pull request #42 was closed without being merged"],
    ["pull_request.closed.merged-into-staging.json", "pull request #42 was merged into staging, not the release branch main"],
    ["pull_request.labeled.json", 'the event is "labeled", not "closed": pull request #42 has not been merged yet'],
    ["pull_request.closed.merged.no-release-label.json", "pull request #42 has no release label (release:major, release:minor, release:patch)"],
  ])("%s", async (fixture, reason) => {
    const r = await setup();
    const before = await snapshot(r);
    const res = await fromEvent(r, join(FIXTURES, fixture));
    expect(res).toMatchObject({ status: "nothing-to-do", reason, releases: [], pushed: false });
    expect(res.pullRequest?.number).toBe(42);
    expect(await snapshot(r)).toEqual(before);
  });

  it("no labels at all, and release:none, release nothing", async () => {
    const r = await setup();
    const before = await snapshot(r);
    expect((await fromEvent(r, await writeEvent(r.root, []))).reason).toBe("pull request #42 has no release label (release:major, release:minor, release:patch)");
    expect((await fromEvent(r, await writeEvent(r.root, ["release:none", "bug"]))).reason).toBe("pull request #42 is labelled release:none: no release");
    expect(await snapshot(r)).toEqual(before);
  });

  it("the release branch comes from oscd.toml", async () => {
    const r = await setup({ files: { "oscd.toml": '[release]\nbranch = "staging"\n' }, branch: "staging" });
    const res = await fromEvent(r, join(FIXTURES, "pull_request.closed.merged-into-staging.json"));
    expect(res.releases.map((x) => x.tag)).toEqual(["v2.0.0"]);
    expect(await r.head(r.origin, "staging")).toBe(res.head);
    const skip = await fromEvent(r, join(FIXTURES, "pull_request.closed.merged.json"));
    expect(skip.reason).toBe("pull request #42 was merged into main, not the release branch staging");
  });
});

describe("oscd release from-event: each label combination", () => {
  it.each([
    [["release:major"], ["v2.0.0"]],
    [["release:minor"], ["v1.3.0"]],
    [["release:patch"], ["v1.2.4"]],
    [["release:major", "release:minor"], ["v2.0.0", "v2.1.0"]],
    [["release:patch", "release:major"], ["v2.0.0", "v2.0.1"]],
    [["release:patch", "release:minor"], ["v1.3.0", "v1.3.1"]],
    [["release:patch", "documentation", "release:minor", "release:major"], ["v2.0.0", "v2.1.0", "v2.1.1"]],
  ])("%j on 1.2.3 → %j, pushed with the branch, notes naming the pull request", async (labels, tags) => {
    const r = await setup();
    const base = await r.head(r.origin, "main");
    const res = await fromEvent(r, await writeEvent(r.root, labels));
    expect(res).toMatchObject({ status: "released", pushed: true, attempts: 1, base, branch: "main", remote: "origin" });
    expect(res.releases.map((x) => x.tag)).toEqual(tags);
    const originTags = await r.tags();
    expect(Object.keys(originTags).sort()).toEqual([...tags].sort());
    let parent = base;
    for (const x of res.releases) {
      expect(originTags[x.tag]).toBe(x.commit);
      expect(await git(r.origin, ["rev-parse", `${x.commit}^`])).toBe(parent);
      expect(await r.fileAt(r.origin, x.tag, "VERSION")).toBe(x.version);
      const notes = await git(r.origin, ["tag", "-l", "--format=%(contents)", x.tag]);
      expect(notes).toContain(`Release ${x.tag}`);
      expect(notes).toContain("- #42 web1: enable nginx status page (https://github.com/example-org/fleet/pull/42)");
      const msg = await git(r.origin, ["log", "-1", "--format=%B", x.commit]);
      expect(msg).toContain(`Oscd-Pull-Request: ${REPO}#42`);
      parent = x.commit;
    }
    expect(await r.head(r.origin, "main")).toBe(parent);
    // the CI checkout was on main: it follows
    expect(res.checkout).toBe("advanced");
    expect(await r.head(r.work)).toBe(parent);
  });

  it("strategy highest (oscd.toml, or the option) applies only the highest label", async () => {
    const r = await setup({ files: { "oscd.toml": '[release]\nstrategy = "highest"\n' } });
    const labels = ["release:patch", "release:minor", "release:major"];
    const res = await fromEvent(r, await writeEvent(r.root, labels));
    expect(res.releases.map((x) => x.tag)).toEqual(["v2.0.0"]);
    const res2 = await fromEvent(r, await writeEvent(r.root, ["release:patch", "release:minor"], (ev) => (ev.pull_request.number = 43)));
    expect(res2.releases.map((x) => x.tag)).toEqual(["v2.1.0"]);
    const res3 = await fromEvent(r, await writeEvent(r.root, ["release:patch", "release:minor"], (ev) => (ev.pull_request.number = 44)), { strategy: "sequential" });
    expect(res3.releases.map((x) => x.tag)).toEqual(["v2.2.0", "v2.2.1"]);
  });

  it("custom label names from oscd.toml", async () => {
    const r = await setup({ files: { "oscd.toml": '[release.labels]\nmajor = "semver/breaking"\nminor = "semver/feature"\npatch = "semver/fix"\n' } });
    const res = await fromEvent(r, await writeEvent(r.root, ["semver/fix", "release:major"]));
    expect(res.releases.map((x) => x.tag)).toEqual(["v1.2.4"]);
    expect(await fromEventError(r, await writeEvent(r.root, ["semver/breakin"]))).toMatchObject({ code: "release-unknown-label", message: 'unknown release label "semver/breakin"' });
  });

  it("a re-run for the same pull request (job retried) does not release twice", async () => {
    const r = await setup();
    const event = await writeEvent(r.root, ["release:minor"]);
    const first = await fromEvent(r, event);
    const after = await snapshot(r);
    const again = await fromEvent(r, event);
    expect(again).toMatchObject({ status: "nothing-to-do", reason: "pull request #42 was already released: a release commit on main names it", pushed: false });
    expect(await snapshot(r)).toEqual(after);
    expect(Object.keys(after.originTags)).toEqual(["v1.3.0"]);
    expect(first.head).toBe(after.origin);
  });

  it("without --push: commits and tags locally on origin's head, nothing pushed", async () => {
    const r = await setup();
    const originHead = await r.head(r.origin, "main");
    const res = await fromEvent(r, await writeEvent(r.root, ["release:patch"]), { push: false });
    expect(res).toMatchObject({ status: "released", pushed: false, base: originHead });
    expect(await r.tags()).toEqual({});
    expect(await r.tags(r.work)).toEqual({ "v1.2.4": res.head });
    expect(await r.head(r.origin, "main")).toBe(originHead);
  });
});

describe("oscd release from-event: bad input is one error line, nothing committed or pushed", () => {
  async function expectRefused(r: ReleaseRepos, event: string, want: { code: string; exitCode: number; message?: RegExp | string }, extra: Partial<FromEventOptions> = {}) {
    const before = await snapshot(r);
    const e = await fromEventError(r, event, extra);
    expect(e.code).toBe(want.code);
    expect(e.exitCode).toBe(want.exitCode);
    if (want.message !== undefined) expect(e.message).toMatch(want.message);
    expect(e.message).not.toContain("\n");
    expect(await snapshot(r)).toEqual(before);
  }

  it("malformed, truncated and non-pull-request payloads", async () => {
    const r = await setup();
    await expectRefused(r, join(FIXTURES, "pull_request.closed.merged.truncated.json"), { code: "release-bad-event", exitCode: 2, message: /is not valid JSON/ });
    await expectRefused(r, join(FIXTURES, "push.json"), { code: "release-bad-event", exitCode: 2, message: /is not a pull_request event payload/ });
    await expectRefused(r, await writeEvent(r.root, ["release:minor"], (ev) => delete (ev.pull_request as Record<string, unknown>).base), { code: "release-bad-event", exitCode: 2, message: /pull_request.base: Required/ });
    await expectRefused(r, join(r.root, "missing.json"), { code: "release-bad-event", exitCode: 2, message: /ENOENT/ });
  });

  it("an event for another repository: GITHUB_REPOSITORY, or origin's GitHub URL when that is unset", async () => {
    const r = await setup();
    const event = await writeEvent(r.root, ["release:minor"]);
    await expectRefused(r, event, { code: "release-wrong-repository", exitCode: 3, message: "the event is for example-org/fleet, but this is example-org/other (from GITHUB_REPOSITORY)" }, { expectedRepository: "example-org/other" });
    await expectRefused(r, await writeEvent(r.root, ["release:minor"], (ev) => ((ev.repository as Record<string, unknown>).full_name = "mallory/fleet")), { code: "release-wrong-repository", exitCode: 3 });
    // No GITHUB_REPOSITORY: origin's URL decides when it is a GitHub URL (the check comes before any fetch).
    await git(r.work, ["remote", "set-url", "origin", "https://github.com/example-org/other.git"]);
    await expectRefused(r, event, { code: "release-wrong-repository", exitCode: 3, message: /from remote origin \(https:\/\/github.com\/example-org\/other.git\)/ }, { expectedRepository: undefined });
  });

  it("unknown and conflicting labels", async () => {
    const r = await setup();
    await expectRefused(r, await writeEvent(r.root, ["release:minor", "release:mayor"]), { code: "release-unknown-label", exitCode: 2, message: 'unknown release label "release:mayor"' });
    await expectRefused(r, await writeEvent(r.root, ["release:none", "release:patch"]), { code: "release-conflicting-labels", exitCode: 2 });
  });

  it("a version file with garbage, and a dirty checkout", async () => {
    const r = await setup();
    const other = await r.clone();
    await r.pushCompeting(other, "VERSION", "next\n");
    await expectRefused(r, await writeEvent(r.root, ["release:minor"]), { code: "release-bad-version", exitCode: 2, message: /^VERSION at [0-9a-f]{12} is not a semantic version: "next\\n"$/ });
    const r2 = await ReleaseRepos.create();
    try {
      await git(r2.work, ["rm", "-q", "--cached", "hosts/web1.nix"]);
      await expectRefused(r2, await writeEvent(r2.root, ["release:minor"]), { code: "release-dirty-tree", exitCode: 3 });
    } finally {
      await r2.cleanup();
    }
  });
});

describe("oscd release from-event: the branch moves between fetch and push", () => {
  it("re-applies the bump on the new head and retries: the tags end up on the new head", async () => {
    const r = await setup();
    const other = await r.clone();
    let competing = "";
    const res = await fromEvent(r, await writeEvent(r.root, ["release:major", "release:patch"]), {
      beforePush: async (attempt) => {
        if (attempt === 1) competing = await r.pushCompeting(other, "hosts/web2.nix", "{ web2 = true; }\n");
      },
    });
    expect(res).toMatchObject({ status: "released", pushed: true, attempts: 2, base: competing });
    expect(res.releases.map((x) => x.tag)).toEqual(["v2.0.0", "v2.0.1"]);
    const [major, patch] = res.releases;
    expect(await git(r.origin, ["rev-parse", `${major?.commit}^`])).toBe(competing);
    expect(await git(r.origin, ["rev-parse", `${patch?.commit}^`])).toBe(major?.commit);
    expect(await r.head(r.origin, "main")).toBe(patch?.commit);
    expect(await r.tags()).toEqual({ "v2.0.0": major?.commit, "v2.0.1": patch?.commit });
    expect(await r.fileAt(r.origin, "v2.0.1", "VERSION")).toBe("2.0.1");
    expect(await r.fileAt(r.origin, "v2.0.1", "hosts/web2.nix")).toBe("{ web2 = true; }");
    // the first attempt's local tags were undone and remade: work has exactly origin's tags
    expect(await r.tags(r.work)).toEqual(await r.tags());
    expect(await r.head(r.work)).toBe(patch?.commit);
  });

  it("when the competing push was another release, this bump applies on top of its version", async () => {
    const r = await setup();
    const other = await r.clone();
    const res = await fromEvent(r, await writeEvent(r.root, ["release:patch"]), {
      beforePush: async (attempt) => {
        if (attempt !== 1) return;
        const c = await r.pushCompeting(other, "VERSION", "1.3.0\n");
        await git(other, ["tag", "-a", "-m", "Release v1.3.0", "v1.3.0", c]);
        await git(other, ["push", "-q", "origin", "v1.3.0"]);
      },
    });
    expect(res.attempts).toBe(2);
    expect(res.releases.map((x) => [x.from, x.tag])).toEqual([["1.3.0", "v1.3.1"]]);
    expect(Object.keys(await r.tags()).sort()).toEqual(["v1.3.0", "v1.3.1"]);
    expect(await r.head(r.origin, "main")).toBe(res.head);
  });

  it("gives up after a bounded number of attempts, leaving no tags anywhere", async () => {
    const r = await setup();
    const other = await r.clone();
    let moves = 0;
    const retries: number[] = [];
    const e = await fromEventError(r, await writeEvent(r.root, ["release:minor"]), {
      maxAttempts: 3,
      beforePush: async () => {
        await r.pushCompeting(other, `hosts/web${++moves + 1}.nix`, "{ }\n");
      },
      onRetry: (n) => retries.push(n),
    });
    expect(e).toMatchObject({ code: "release-push-retries-exhausted", exitCode: 1 });
    expect(moves).toBe(3);
    expect(retries).toEqual([1, 2, 3]);
    expect(await r.tags()).toEqual({});
    expect(await r.tags(r.work)).toEqual({});
    expect(await git(r.origin, ["log", "--format=%s", "-1", "main"])).toMatch(/^competing change/);
  });
});
