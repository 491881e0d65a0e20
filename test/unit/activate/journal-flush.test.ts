import { describe, expect, it } from "vitest";
import { needsFlush, type JournalState } from "../../../src/activate/journal.js";

/** The states a path writes, in order, and which of them are flushed. */
function flushedAlong(path: JournalState[]): JournalState[] {
  const out: JournalState[] = [];
  let j: { state: JournalState; steps: { state: JournalState; at: string }[] } = { state: "locked", steps: [] };
  for (const state of path) {
    if (needsFlush(j, state)) out.push(state);
    j = { state, steps: [...j.steps, { state, at: "" }] };
  }
  return out;
}

describe("which journal states are flushed to disk", () => {
  it("flushes the first state of each recovery class on the way forward, and only those", () => {
    // locked/realised/guarded are aborted, profile-set/switched rolled back, checked/committed committed.
    expect(flushedAlong(["locked", "realised", "guarded", "profile-set", "switched", "checked", "committed"])).toEqual(["locked", "profile-set", "checked"]);
    // test mode sets no profile: switched starts the roll-back class and must reach the disk.
    expect(flushedAlong(["locked", "realised", "guarded", "switched", "checked", "committed"])).toEqual(["locked", "switched", "checked"]);
  });

  it("flushes every ending and every roll-back, whatever came before", () => {
    expect(flushedAlong(["locked", "realised", "guarded", "aborted"])).toEqual(["locked", "aborted"]);
    expect(flushedAlong(["locked", "realised", "guarded", "profile-set", "switched", "rolling-back", "rolled-back"])).toEqual(["locked", "profile-set", "rolling-back", "rolled-back"]);
  });

  it("flushes a journal's first write even when it starts in a state that is otherwise not flushed", () => {
    expect(needsFlush({ state: "locked", steps: [] }, "locked")).toBe(true);
    expect(needsFlush({ state: "locked", steps: [] }, "realised")).toBe(true);
  });

  it("never skips a flush when the class changes, in either direction", () => {
    const forward: JournalState[] = ["locked", "realised", "guarded", "profile-set", "switched", "checked", "committed"];
    for (const from of forward) {
      for (const to of forward) {
        const j = { state: from, steps: [{ state: from, at: "" }] };
        const cls = (s: JournalState) => (["locked", "realised", "guarded"].includes(s) ? 0 : ["profile-set", "switched"].includes(s) ? 1 : 2);
        expect(needsFlush(j, to), `${from} → ${to}`).toBe(cls(from) !== cls(to));
      }
    }
  });
});
