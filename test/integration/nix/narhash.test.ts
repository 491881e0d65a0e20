import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addedPathOf, addToStore, narHashOf, nixBase32, pathInfo } from "../../../src/nix/index.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-narhash-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A tree with what a NAR distinguishes: nesting, an executable, a symlink, an empty file, odd lengths, name order. */
async function tree(name: string, tweak = ""): Promise<string> {
  const t = join(dir, name);
  await mkdir(join(t, "sub", "deeper"), { recursive: true });
  await writeFile(join(t, "a.txt"), `hello${tweak}\n`);
  await writeFile(join(t, "B.txt"), "upper case sorts first\n");
  await writeFile(join(t, "empty"), "");
  await writeFile(join(t, "sub", "run.sh"), "#!/bin/sh\necho hi\n");
  await chmod(join(t, "sub", "run.sh"), 0o755);
  await writeFile(join(t, "sub", "deeper", "eight-bytes"), "12345678");
  await symlink("../a.txt", join(t, "sub", "link"));
  return t;
}

describe("NAR hash and added path computed without Nix", () => {
  it("match what nix-store --add and nix path-info say", async () => {
    const t = await tree("oscd-source-abc");
    const mine = await narHashOf(t);
    const storePath = await addToStore(t);
    const [info] = await pathInfo([storePath]);
    expect(mine).toBe(info?.narHash);
    expect(addedPathOf(mine, "oscd-source-abc")).toBe(storePath);
  });

  it("a changed byte changes the hash and so the path: a mismatch is noticed, never used", async () => {
    const t = await tree("oscd-source-def", "!");
    const storePath = await addToStore(t);
    await writeFile(join(t, "a.txt"), "hello\n");
    expect(addedPathOf(await narHashOf(t), "oscd-source-def")).not.toBe(storePath);
  });

  it("Nix's base-32 of known bytes", () => {
    expect(nixBase32(Buffer.alloc(20))).toBe("0".repeat(32));
    expect(nixBase32(Buffer.from([0xff]))).toBe("7z");
  });
});
