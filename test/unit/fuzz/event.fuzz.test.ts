import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isOscdError } from "../../../src/core/errors.js";
import { parsePullRequestEvent } from "../../../src/release/index.js";
import { deepJson, expectNoFailures, fuzzFailures, isOneLine, int, mutants, mutateJson, pick, rng } from "./mutate.js";

const DIR = join(import.meta.dirname, "..", "..", "fixtures", "github");
const FIXTURES = ["pull_request.closed.merged.json", "pull_request.labeled.json", "pull_request.closed.not-merged.json", "push.json"].map((f) => readFileSync(join(DIR, f), "utf8"));
const EXTRAS = ['"__proto__": {"pull_request": 1},', '"action": "closed",', "{", "]", '"number": 1e999,', '"x": "\\ud800",'];

describe("fuzz: GitHub event payload", () => {
  it("fails only with a typed one-line error on 2000 text-mutated, 1000 structure-mutated and a few deeply nested payloads (seed 4001)", () => {
    const text = [...mutants(4001, 2000, FIXTURES, EXTRAS)];
    const r = rng(4002);
    // Each deep document takes tens of milliseconds: a few of them cover the case.
    const deep = Array.from({ length: 6 }, () => deepJson(r));
    const structural = Array.from({ length: 1000 }, () => {
      const doc = JSON.parse(pick(r, FIXTURES)) as unknown;
      let d = doc;
      for (let k = 1 + int(r, 3); k > 0; k--) d = mutateJson(r, d);
      return JSON.stringify(d);
    });
    const inputs = [...text, ...structural, ...deep];
    expectNoFailures(fuzzFailures(inputs, (t) => parsePullRequestEvent(t, "event.json")), inputs.length);
  });

  it.each([
    ["repository.full_name", (e: Record<string, any>) => (e.repository.full_name = "evil\norg/fleet")], // eslint-disable-line @typescript-eslint/no-explicit-any -- a payload under test
    ["pull_request.base.ref", (e: Record<string, any>) => (e.pull_request.base.ref = "main\nfake line")], // eslint-disable-line @typescript-eslint/no-explicit-any -- a payload under test
    ["action", (e: Record<string, any>) => (e.action = "closed\u2028")], // eslint-disable-line @typescript-eslint/no-explicit-any -- a payload under test
  ])("refuses a line break in %s, which reaches messages and git", (field, change) => {
    const doc = JSON.parse(FIXTURES[0] as string) as Record<string, unknown>;
    change(doc);
    const err = (() => {
      try {
        parsePullRequestEvent(JSON.stringify(doc), "event.json");
      } catch (e) {
        return e;
      }
    })();
    expect(isOscdError(err)).toBe(true);
    expect((err as Error).message).toContain(field);
    expect(isOneLine((err as Error).message)).toBe(true);
  });

  it("parses 300 valid payloads with generated labels, titles and branches (seed 4003)", () => {
    const r = rng(4003);
    for (let k = 0; k < 300; k++) {
      const doc = JSON.parse(FIXTURES[0] as string) as { pull_request: { title: string; labels: { name: string }[]; base: { ref: string } } };
      const labels = Array.from({ length: int(r, 5) }, () => pick(r, ["release:major", "release:minor", "bug", "😀 docs", "a b"]));
      doc.pull_request.labels = labels.map((name) => ({ name }));
      doc.pull_request.title = pick(r, ["fix", "web1: ß → ä 😀", "x".repeat(int(r, 500)), "line\nbreak in a title"]);
      doc.pull_request.base.ref = pick(r, ["main", "release/1.x", "staging", "feature/ä"]);
      const ev = parsePullRequestEvent(JSON.stringify(doc), "event.json");
      expect(ev.pullRequest.labels).toEqual(labels);
      expect(ev.pullRequest.base).toBe(doc.pull_request.base.ref);
    }
  });
});
