import { spawn } from "node:child_process";
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseKeyRequests, writeKey, writeKeys, type KeyWrite } from "../../../src/deploy/target/index.js";
import { SYMLINK_RACER } from "../../harness/symlink-racer.js";

/**
 * The host side of key uploads (`oscd deploy-target put-keys`), as root on this machine: a
 * directory the key's owner (here `nobody`) can write, symbolic links it plants, and a process
 * of its own racing every write. A stand-in for /etc/shadow must never change.
 */
const NOBODY = 65534;
const ROUNDS = 40;
let base: string;
let svc: string;
let rootOnly: string;
let standin: string;
const STANDIN = "root:$6$secret-hash:19000:0:99999:7:::\n";

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("these tests need root (they change owners and run a process as nobody)");
  base = await mkdtemp(join(tmpdir(), "oscd-keys-"));
  await chmod(base, 0o755);
  svc = join(base, "svc");
  rootOnly = join(base, "root-only");
  standin = join(base, "shadow");
  await mkdir(svc);
  await chown(svc, NOBODY, NOBODY);
  await mkdir(rootOnly, { mode: 0o700 });
  await writeFile(standin, STANDIN, { mode: 0o640 });
});
afterAll(() => rm(base, { recursive: true, force: true }));

const key = (destination: string, over: Partial<KeyWrite> = {}): KeyWrite => ({ name: "token", destination, owner: "nobody", group: "nogroup", mode: "0400", content: "s3cret\n", ...over });

async function untouched(): Promise<void> {
  const st = await stat(standin);
  expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([0, 0, 0o640]);
  expect(await readFile(standin, "utf8")).toBe(STANDIN);
  expect(await readdir(rootOnly)).toEqual([]);
}

describe("oscd deploy-target put-keys", () => {
  it("writes the key with its owner and mode, making missing directories 0755 root's", async () => {
    const dest = join(base, "made/deeper/token");
    await writeKey(key(dest));
    const st = await stat(dest);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([NOBODY, NOBODY, 0o400]);
    expect(await readFile(dest, "utf8")).toBe("s3cret\n");
    const made = await stat(join(base, "made"));
    expect([made.uid, made.mode & 0o7777]).toEqual([0, 0o755]);
    // Written again: replaced whole, nothing left behind.
    await writeKey(key(dest, { content: "rotated" }));
    expect(await readFile(dest, "utf8")).toBe("rotated");
    expect(await readdir(join(base, "made/deeper"))).toEqual(["token"]);
  });

  it("replaces a destination its owner symlinked to a root-only directory or to the stand-in, never writing through it", async () => {
    await symlink(rootOnly, join(svc, "to-dir"));
    await symlink(standin, join(svc, "to-file"));
    await lchownNobody(join(svc, "to-dir"));
    await lchownNobody(join(svc, "to-file"));
    await writeKey(key(join(svc, "to-dir")));
    await writeKey(key(join(svc, "to-file")));
    for (const n of ["to-dir", "to-file"]) {
      const st = await lstat(join(svc, n));
      expect(st.isFile()).toBe(true);
      expect(st.uid).toBe(NOBODY);
    }
    await untouched();
  });

  it("refuses a directory on the way that a user other than root can re-point, and follows root's own links", async () => {
    await symlink(rootOnly, join(svc, "sub"));
    await lchownNobody(join(svc, "sub"));
    await expect(writeKey(key(join(svc, "sub/token")))).rejects.toMatchObject({ code: "key-destination-unsafe", exitCode: 3, message: expect.stringContaining(`${svc}/sub is a symbolic link`) });
    // Root's link, but in a directory nobody can write: nobody could swap it, so it is refused too.
    await symlink(rootOnly, join(svc, "rootlink"));
    await expect(writeKey(key(join(svc, "rootlink/token")))).rejects.toMatchObject({ code: "key-destination-unsafe" });
    await untouched();
    // Root's link in root's directory (as /var/run → /run): followed, relative and absolute, with "..".
    await mkdir(join(base, "real"));
    await symlink("real", join(base, "rel"));
    await symlink(join(base, "real"), join(base, "abs"));
    await symlink("../real", join(base, "made", "up"));
    for (const via of ["rel", "abs", "made/up"]) await writeKey(key(join(base, via, `t-${via.replace("/", "-")}`)));
    expect((await readdir(join(base, "real"))).sort()).toEqual(["t-abs", "t-made-up", "t-rel"]);
  });

  it("a file or non-directory on the way, a directory at the destination, an unknown owner: refused with a cause", async () => {
    await writeFile(join(base, "plain"), "x");
    await expect(writeKey(key(join(base, "plain/token")))).rejects.toMatchObject({ code: "key-destination-unsafe", message: expect.stringContaining("is not a directory") });
    await mkdir(join(base, "isdir"));
    await writeFile(join(base, "isdir/inner"), "x");
    await expect(writeKey(key(join(base, "isdir")))).rejects.toMatchObject({ code: "key-destination-unsafe", message: expect.stringContaining("is a directory") });
    await expect(writeKey(key(join(base, "t"), { owner: "no-such-user-x" }))).rejects.toMatchObject({ code: "key-upload-failed", message: expect.stringContaining("no user no-such-user-x") });
  });

  it("the owner swapping every file of its directory for a link to the stand-in, as fast as it can: the stand-in never changes", async () => {
    const race = join(base, "race");
    await mkdir(race);
    await chown(race, NOBODY, NOBODY);
    const stop = join(base, "stop-race");
    const attacker = spawn("runuser", ["-u", "nobody", "--", "python3", "-c", SYMLINK_RACER, race, standin, stop], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    attacker.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => attacker.on("exit", () => r()));
    let written = 0;
    let refused = 0;
    try {
      for (let i = 0; i < ROUNDS; i++) {
        try {
          await writeKey(key(join(race, "token"), { content: `round ${i}` }));
          written++;
        } catch (e) {
          expect(e).toMatchObject({ code: "key-destination-unsafe", message: expect.stringMatching(/was replaced while it was written/) });
          refused++;
        }
      }
    } finally {
      await writeFile(stop, "");
      await exited;
    }
    const swaps = Number(/swaps=(\d+)/.exec(out)?.[1] ?? 0);
    // The race was real: the attacker swapped files, and uploads saw it (35 of 40 when measured).
    expect(swaps).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    expect(written + refused).toBe(ROUNDS);
    await untouched();
  });

  it("takes JSON lines and refuses anything else, naming the line, never its content", () => {
    const ok = JSON.stringify(key("/run/keys/a"));
    expect(parseKeyRequests(`${ok}\n${ok}\n`)).toHaveLength(2);
    for (const bad of ["Tr0ub4dor-and-more\n", `${ok}\n{"name":"x","Tr0ub4dor":1}\n`, JSON.stringify(key("/run/keys/../../etc/shadow")), JSON.stringify({ ...key("/run/keys/a"), mode: "u+s" })]) {
      let err: unknown;
      try {
        parseKeyRequests(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: "bad-deploy-request", message: expect.stringMatching(/line \d/) });
      expect((err as Error).message).not.toMatch(/Tr0ub4dor|shadow|u\+s/);
    }
  });

  it("writes every key of an upload in order", async () => {
    const lines = [key(join(base, "batch/a"), { name: "a" }), key(join(base, "batch/b"), { name: "b", owner: "root", group: "root", mode: "0440" })].map((k) => JSON.stringify(k)).join("\n");
    expect(await writeKeys(lines)).toBe(2);
    const b = await stat(join(base, "batch/b"));
    expect([b.uid, b.mode & 0o777]).toEqual([0, 0o440]);
  });
});

async function lchownNobody(p: string): Promise<void> {
  const { lchown } = await import("node:fs/promises");
  await lchown(p, NOBODY, NOBODY);
}

