import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { formatNarInfo, formatPublicKey, generateSecretKey, missingClosureSize, publicKeyOf, signNarInfo, type NarInfo } from "../../../src/nix/index.js";
import { tempDir } from "../../harness/fixtures.js";

const key = generateSecretKey("fleet-1");
const other = generateSecretKey("mallory-1");
const trusted = [formatPublicKey(publicKeyOf(key))];
const p = (c: string, name: string) => `/nix/store/${c.repeat(32)}-${name}`;
const TOP = p("a", "nixos-system-web1");
const KERNEL = p("b", "linux-6.1");
const LIBC = p("c", "glibc");
const BIG = p("d", "firmware");

let cache: string;
async function put(dir: string, path: string, size: number, refs: string[], signer = key): Promise<void> {
  const n: NarInfo = { storePath: path, url: `nar/${path.slice(11, 43)}.nar`, compression: "none", narHash: `sha256:${"0".repeat(52)}`, narSize: size, references: refs.map((r) => r.slice(11)), sigs: [], extra: [] };
  await writeFile(join(dir, `${path.slice(11, 43)}.narinfo`), formatNarInfo(signNarInfo(n, signer)));
}

beforeAll(async () => {
  cache = await tempDir("narinfo-cache");
  await put(cache, TOP, 1000, [TOP, KERNEL, LIBC]);
  await put(cache, KERNEL, 50_000, [LIBC]);
  await put(cache, LIBC, 30_000, [LIBC]);
});

describe("missingClosureSize from signed narinfos", () => {
  it("sums the NAR sizes of the closure's paths that are not here, once each", async () => {
    const r = await missingClosureSize(TOP, { substituters: [`file://${cache}`], trustedPublicKeys: trusted, present: () => false });
    expect(r).toEqual({ narBytes: 81_000, paths: 3, from: "narinfo", rootSignedIn: `file://${cache}` });
  });

  it("stops at paths already here (their closure is complete)", async () => {
    const r = await missingClosureSize(TOP, { substituters: [`file://${cache}`], trustedPublicKeys: trusted, present: (x) => x === KERNEL || x === LIBC });
    expect(r).toEqual({ narBytes: 1000, paths: 1, from: "narinfo", rootSignedIn: `file://${cache}` });
    expect(await missingClosureSize(TOP, { substituters: [`file://${cache}`], trustedPublicKeys: trusted, present: (x) => x === TOP })).toEqual({ narBytes: 0, paths: 0, from: "narinfo" });
  });

  it("takes each path from the first cache that has it", async () => {
    const second = await tempDir("narinfo-cache2");
    await put(second, BIG, 9_000_000, [LIBC]);
    const first = await tempDir("narinfo-cache1");
    await put(first, TOP, 1000, [BIG, LIBC]);
    await put(first, LIBC, 30_000, []);
    const r = await missingClosureSize(TOP, { substituters: [`file://${first}`, `file://${second}`], trustedPublicKeys: trusted, present: () => false });
    expect(r).toEqual({ narBytes: 9_031_000, paths: 3, from: "narinfo", rootSignedIn: `file://${first}` });
  });

  it("does not believe a record signed by an untrusted key (Nix's dry run answers instead, and finds nothing)", async () => {
    const forged = await tempDir("narinfo-forged");
    await mkdir(forged, { recursive: true });
    await put(forged, TOP, 10 ** 12, [], other);
    const r = await missingClosureSize(TOP, { substituters: [`file://${forged}`], trustedPublicKeys: trusted, present: () => false });
    // The dry run of real Nix: the path is not signed by a trusted key, so nothing is fetched.
    expect(r?.from).toBe("nix");
    // Nothing vouches for the path's signature: the realise makes its own check of it.
    expect(r?.rootSignedIn).toBeUndefined();
    expect(r?.narBytes ?? 0).toBeLessThan(10 ** 12);
  });
});
