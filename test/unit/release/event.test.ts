import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { eventSkipReason, parsePullRequestEvent, readPullRequestEvent } from "../../../src/release/index.js";

const FIXTURES = join(import.meta.dirname, "..", "..", "fixtures", "github");
const fixture = (name: string) => join(FIXTURES, name);

describe("pull_request event payloads", () => {
  it("reads what a release needs from GitHub's payload", async () => {
    const ev = await readPullRequestEvent(fixture("pull_request.closed.merged.json"));
    expect(ev).toEqual({
      action: "closed",
      repository: "example-org/fleet",
      pullRequest: {
        number: 42,
        title: "web1: enable nginx status page",
        url: "https://github.com/example-org/fleet/pull/42",
        merged: true,
        mergeCommit: "9f1c2e3d4b5a69788796a5b4c3d2e1f0a9b8c7d6",
        labels: ["documentation", "release:minor"],
        base: "main",
        baseRepository: "example-org/fleet",
      },
    });
    expect(eventSkipReason(ev, "main")).toBeUndefined();
  });

  it("says why a closed-not-merged, labeled or other-branch event does nothing", async () => {
    expect(eventSkipReason(await readPullRequestEvent(fixture("pull_request.closed.not-merged.json")), "main")).toBe("pull request #42 was closed without being merged");
    expect(eventSkipReason(await readPullRequestEvent(fixture("pull_request.labeled.json")), "main")).toMatch(/^the event is "labeled", not "closed"/);
    expect(eventSkipReason(await readPullRequestEvent(fixture("pull_request.closed.merged-into-staging.json")), "main")).toBe(
      "pull request #42 was merged into staging, not the release branch main",
    );
    expect(eventSkipReason(await readPullRequestEvent(fixture("pull_request.closed.merged-into-staging.json")), "staging")).toBeUndefined();
  });

  it("gives one line with the cause for truncated, malformed, empty and non-pull-request payloads", async () => {
    await expect(readPullRequestEvent(fixture("pull_request.closed.merged.truncated.json"))).rejects.toThrow(/^.*truncated\.json is not valid JSON \(.+\)$/);
    await expect(readPullRequestEvent(fixture("push.json"))).rejects.toThrow(/push\.json is not a pull_request event payload \(it has no pull_request: is it another event\?\): .*pull_request: Required/);
    await expect(readPullRequestEvent(fixture("does-not-exist.json"))).rejects.toThrow(/cannot read event file .*does-not-exist.json: ENOENT/);
    expect(() => parsePullRequestEvent("", "e.json")).toThrow(/^e.json is not valid JSON \(empty file\)$/);
    expect(() => parsePullRequestEvent("{not json", "e.json")).toThrow(/^e.json is not valid JSON/);
    expect(() => parsePullRequestEvent("[]", "e.json")).toThrow(/^e.json is not a pull_request event payload: \(top level\): Expected object/);
    const ev = JSON.parse(await readFile(fixture("pull_request.closed.merged.json"), "utf8")) as { pull_request: { labels: unknown } };
    ev.pull_request.labels = "release:minor";
    expect(() => parsePullRequestEvent(JSON.stringify(ev), "e.json")).toThrow(/pull_request.labels: Expected array, received string/);
    // One at a time: a second promise made up front could reject before it is awaited.
    for (const name of ["push.json", "pull_request.closed.merged.truncated.json"]) {
      await expect(readPullRequestEvent(fixture(name))).rejects.toMatchObject({ code: "release-bad-event", exitCode: 2 });
    }
  });
});
