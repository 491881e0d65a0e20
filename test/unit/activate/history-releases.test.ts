import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { historyReleases } from "../../../src/activate/records.js";
import type { HostLayout } from "../../../src/activate/layout.js";
import { historyFloor } from "../../../src/agent/state.js";

let layout: HostLayout;
let history: string;
beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), "oscd-history-"));
  layout = { stateDir: dir, profile: join(dir, "profile"), gcrootDir: join(dir, "roots"), runDir: join(dir, "run") };
  history = join(dir, "history");
  await mkdir(history, { recursive: true });
});
afterAll(async () => {
  await rm(layout.stateDir, { recursive: true, force: true });
});

const journal = (id: string, sequence: number, channel = "main") => JSON.stringify({ id, toplevel: "/nix/store/x", mode: "switch", host: "h", release: { channel, sequence }, previous: {}, state: "committed", startedAt: "", updatedAt: "", steps: [] });

/**
 * The agent's replay floor from the engine's history is read on every manifest; each history
 * file is parsed once per process, and the floor still follows the directory as it is now.
 */
describe("historyReleases", () => {
  it("reads new files as they appear, newest first, and the floor follows", async () => {
    await writeFile(join(history, "20260101000000000-aaaaaa.json"), journal("a", 3));
    expect(await historyFloor(layout, "main")).toBe(3);
    await writeFile(join(history, "20260102000000000-bbbbbb.json"), journal("b", 7));
    await writeFile(join(history, "20260103000000000-cccccc.json"), journal("c", 40, "testing"));
    expect((await historyReleases(layout)).map((r) => r.sequence)).toEqual([40, 7, 3]);
    expect(await historyFloor(layout, "main")).toBe(7);
  });

  it("no longer counts a file that was removed", async () => {
    await rm(join(history, "20260102000000000-bbbbbb.json"));
    expect(await historyFloor(layout, "main")).toBe(3);
  });

  it("skips a damaged file without remembering it, and reads it once it is whole", async () => {
    const name = join(history, "20260104000000000-dddddd.json");
    await writeFile(name, "{ not json");
    expect(await historyFloor(layout, "main")).toBe(3);
    await writeFile(name, journal("d", 9));
    expect(await historyFloor(layout, "main")).toBe(9);
  });
});
