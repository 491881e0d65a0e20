import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { findNixRemembered, forgetNixVersions } from "../../../src/nix/index.js";

/*
 * `oscd status` says which Nix it runs without starting it each time: the answer of `nix
 * --version` is remembered per binary in the user's cache folder. Stand-in `nix` programs count
 * how often they are asked; forgetNixVersions() plays a new oscd process.
 */
let dir: string;
let bin: string;
let cache: string;
const env = () => ({ PATH: bin });

async function writeNix(versionLine: string): Promise<void> {
  await writeFile(join(bin, "nix"), `#!/bin/sh\necho x >> "${dir}/asked"\necho "${versionLine}"\n`, { mode: 0o755 });
}
const asked = async () => (await readFile(join(dir, "asked"), "utf8").catch(() => "")).split("\n").filter(Boolean).length;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-nix-version-cache-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await rm(join(dir, "asked"), { force: true });
  bin = await mkdtemp(join(dir, "bin-"));
  cache = await mkdtemp(join(dir, "cache-"));
  forgetNixVersions();
});

describe("findNixRemembered", () => {
  it("asks a binary once, and answers the next run from the cache", async () => {
    await writeNix("nix (Nix) 2.24.14");
    const first = await findNixRemembered({ env: env() }, cache);
    expect(first.version).toMatchObject({ flavour: "nix", text: "2.24.14", raw: "nix (Nix) 2.24.14" });
    expect(first.path).toBe(join(bin, "nix"));
    forgetNixVersions();
    const second = await findNixRemembered({ env: env() }, cache);
    expect(second).toEqual(first);
    expect(await asked()).toBe(1);
  });

  it("asks again when the binary is replaced (an upgrade), and remembers the new answer", async () => {
    await writeNix("nix (Nix) 2.24.14");
    await findNixRemembered({ env: env() }, cache);
    await writeNix("nix (Lix, like Nix) 2.93.2");
    forgetNixVersions();
    expect((await findNixRemembered({ env: env() }, cache)).version).toMatchObject({ flavour: "lix", text: "2.93.2" });
    forgetNixVersions();
    expect((await findNixRemembered({ env: env() }, cache)).version.flavour).toBe("lix");
    expect(await asked()).toBe(2);
  });

  it("never answers one binary with what another said: an entry for the same path with other file facts is not used", async () => {
    await writeNix("nix (Nix) 2.24.14");
    // A planted entry names this path but not this file (inode, size, times): ignored.
    await writeFile(join(cache, "nix-version.json"), JSON.stringify({ [`${join(bin, "nix")}\u00000:0:0:0:0`]: "nix (Nix) 2.99.0" }));
    expect((await findNixRemembered({ env: env() }, cache)).version.text).toBe("2.24.14");
    expect(await asked()).toBe(1);
  });

  it("a damaged cache file or no cache folder: asks Nix, as findNix does", async () => {
    await writeNix("nix (Nix) 2.28.3");
    await writeFile(join(cache, "nix-version.json"), "{not json");
    expect((await findNixRemembered({ env: env() }, cache)).version.text).toBe("2.28.3");
    forgetNixVersions();
    expect((await findNixRemembered({ env: env() }, undefined)).version.text).toBe("2.28.3");
    forgetNixVersions();
    expect((await findNixRemembered({ env: env() }, join(dir, "no-such-folder"))).version.text).toBe("2.28.3");
    expect(await asked()).toBe(3);
    // The damaged file was replaced by a good one.
    forgetNixVersions();
    await findNixRemembered({ env: env() }, cache);
    expect(await asked()).toBe(3);
  });
});
