import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VerifiedFiles } from "../../../src/server/netboot.js";

/** The server's memory of verified netboot files: shared reads, bounded, failures not kept. */
let dir: string;
const entryOf = (file: string, content: string) => ({ path: dir, file, size: Buffer.byteLength(content), hash: `sha256-${createHash("sha256").update(content).digest("base64")}` });

beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), "oscd-verified-files-"))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("VerifiedFiles", () => {
  it("concurrent requests share one verified read, and later ones get the verified bytes", async () => {
    await writeFile(join(dir, "k"), "kernel one");
    const files = new VerifiedFiles();
    const e = entryOf("k", "kernel one");
    const [a, b] = await Promise.all([files.get(e, "k", {}), files.get(e, "k", {})]);
    expect(a).toBe(b);
    // Changed on disk after it was verified: what is served is still the signed bytes.
    await writeFile(join(dir, "k"), "kernel two");
    expect((await files.get(e, "k", {})).toString()).toBe("kernel one");
  });

  it("drops the least recently used beyond its size, and reads (and checks) again", async () => {
    await writeFile(join(dir, "a"), "aaaa");
    await writeFile(join(dir, "b"), "bbbb");
    const files = new VerifiedFiles(6);
    const a = entryOf("a", "aaaa");
    await files.get(a, "a", {});
    await files.get(entryOf("b", "bbbb"), "b", {});
    await writeFile(join(dir, "a"), "AAAA");
    await expect(files.get(a, "a", {})).rejects.toMatchObject({ code: "image-hash-mismatch" });
  });

  it("does not keep a failed read: the next request tries again", async () => {
    const files = new VerifiedFiles();
    const e = entryOf("late", "late file");
    await expect(files.get(e, "late", {})).rejects.toMatchObject({ code: "image-file-missing" });
    await writeFile(join(dir, "late"), "late file");
    expect((await files.get(e, "late", {})).toString()).toBe("late file");
  });
});
