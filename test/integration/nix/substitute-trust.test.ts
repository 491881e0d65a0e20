import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  copyTo,
  formatNarInfo,
  formatPublicKey,
  formatSecretKey,
  generateSecretKey,
  isValidPath,
  parseNarInfo,
  PathUnavailableError,
  publicKeyOf,
  realise,
  signPaths,
  substituteTrust,
  UnsignedPathError,
} from "../../../src/nix/index.js";
import { buildFakeToplevel, must, tempDir, uniqueMarker } from "../../harness/index.js";
import { newerNixBin } from "../../harness/nix-newer.js";

/*
 * oscd reads the signatures a cache offers before Nix substitutes (trust-check.ts), and reads
 * Nix's refusal by its meaning when it gets that far. Real Nix, real file caches; the newer
 * wordings come from the harness's wrapper (harness/nix-newer.ts) put first on the PATH of the
 * call, whatever OSCD_TEST_NIX says.
 */
let dir: string;
let keyFile: string;
let trusted: string;
let foreignKeyFile: string;
const GC = "/nix/var/nix/gcroots/oscd-tests";
const roots: string[] = [];

beforeAll(async () => {
  dir = await tempDir("subtrust");
  const fleet = generateSecretKey("fleet-trust-test");
  keyFile = join(dir, "fleet.secret");
  await writeFile(keyFile, formatSecretKey(fleet), { mode: 0o600 });
  trusted = formatPublicKey(publicKeyOf(fleet));
  foreignKeyFile = join(dir, "foreign.secret");
  await writeFile(foreignKeyFile, formatSecretKey(generateSecretKey("someone-else")), { mode: 0o600 });
});
afterAll(async () => {
  for (const r of roots) await rm(join(GC, r), { force: true });
  await rm(dir, { recursive: true, force: true });
});

/** A fresh toplevel with a kernel and initrd of its own, put in a new file cache and removed from this store. */
async function inCacheOnly(sign: (cache: string, top: string) => Promise<void>): Promise<{ top: string; cache: string; deps: string[] }> {
  const marker = uniqueMarker();
  const top = await buildFakeToplevel({ hostname: "t", marker, kernelVersion: `6.1.${parseInt(marker.slice(0, 6), 16)}` });
  const deps = (await must("nix-store", ["--query", "--references", top])).stdout.split("\n").filter((p) => p && p !== top);
  const cache = `file://${join(dir, `cache-${marker}`)}`;
  await copyTo(cache, [top]);
  await sign(cache, top);
  await must("nix-store", ["--delete", top]);
  for (const d of deps) await must("nix-store", ["--delete", d]);
  expect(await isValidPath(top)).toBe(false);
  return { top, cache, deps };
}

function rootName(): string {
  const n = `trust-${uniqueMarker()}`;
  roots.push(n);
  return n;
}

describe("oscd reads a substitute's signatures itself", () => {
  it("refuses a toplevel a cache offers signed by an untrusted key, before Nix downloads it (exit 3)", async () => {
    const { top, cache } = await inCacheOnly((c, t) => signPaths([t], foreignKeyFile, { store: c, recursive: true }));
    expect(await substituteTrust(top, [cache], [trusted])).toEqual({ verdict: "untrusted", caches: [cache] });
    const err = await realise(top, { rootName: rootName(), rootDir: GC, substituters: [cache], trustedPublicKeys: [trusted] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsignedPathError);
    expect((err as UnsignedPathError).exitCode).toBe(3);
    // oscd's own finding, not Nix's words: it names the cache that offered it.
    expect((err as Error).message).toMatch(new RegExp(`is not signed by a trusted key: ${cache.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} offers it without a signature by a trusted key`));
    expect(await isValidPath(top)).toBe(false);
  });

  it("refuses a trusted key's signature moved onto another path's narinfo (a forged record)", async () => {
    const signed = await inCacheOnly((c, t) => signPaths([t], keyFile, { store: c, recursive: true }));
    const victim = await inCacheOnly(async () => undefined);
    // The victim's narinfo gets the valid signature of the other path: it must not verify.
    const [sigLine] = (await readFile(join(signed.cache.slice(7), `${signed.top.slice(11, 43)}.narinfo`), "utf8")).split("\n").filter((l) => l.startsWith("Sig: "));
    const victimInfo = join(victim.cache.slice(7), `${victim.top.slice(11, 43)}.narinfo`);
    const n = parseNarInfo(await readFile(victimInfo, "utf8"));
    await writeFile(victimInfo, formatNarInfo({ ...n, sigs: [sigLine!.slice(5)] }));
    expect((await substituteTrust(victim.top, [victim.cache], [trusted])).verdict).toBe("untrusted");
    const err = await realise(victim.top, { rootName: rootName(), rootDir: GC, substituters: [victim.cache], trustedPublicKeys: [trusted] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsignedPathError);
    expect(await isValidPath(victim.top)).toBe(false);
  });

  it("a signed toplevel whose dependency is unsigned: Nix refuses, and oscd names the dependency", async () => {
    const { top, cache, deps } = await inCacheOnly((c, t) => signPaths([t], keyFile, { store: c }));
    expect((await substituteTrust(top, [cache], [trusted])).verdict).toBe("trusted");
    // Under the newer wording (only "build of … failed" after a warning) and 2.8's alike.
    for (const env of [undefined, { PATH: `${newerNixBin()}:${process.env.PATH ?? ""}` }]) {
      const err = await realise(top, { rootName: rootName(), rootDir: GC, substituters: [cache], trustedPublicKeys: [trusted], env }).catch((e: unknown) => e);
      expect(err, String(err)).toBeInstanceOf(UnsignedPathError);
      expect((err as Error).message).toMatch(/is not signed by a trusted key/);
      expect(deps.some((d) => (err as Error).message.includes(d)) || /not signed by any of the keys/.test((err as Error).message)).toBe(true);
      expect(await isValidPath(top)).toBe(false);
    }
  });

  it("takes the path from the cache that has it signed when another offers it unsigned", async () => {
    const unsigned = await inCacheOnly(async () => undefined);
    const signedCache = `file://${join(dir, `signed-${uniqueMarker()}`)}`;
    // The same path, signed, in a second cache (copied from the first, unchecked, then signed there).
    await must("nix", ["--extra-experimental-features", "nix-command", "copy", "--no-check-sigs", "--from", unsigned.cache, "--to", signedCache, unsigned.top]);
    await signPaths([unsigned.top], keyFile, { store: signedCache, recursive: true });
    expect(await substituteTrust(unsigned.top, [unsigned.cache, signedCache], [trusted])).toMatchObject({ verdict: "trusted", cache: signedCache });
    await realise(unsigned.top, { rootName: rootName(), rootDir: GC, substituters: [unsigned.cache, signedCache], trustedPublicKeys: [trusted] });
    expect(await isValidPath(unsigned.top)).toBe(true);
  });

  it("a cache that does not answer leaves the verdict to Nix, which still refuses the unsigned path", async () => {
    const { top, cache } = await inCacheOnly(async () => undefined);
    const gone = "ssh://root@127.0.0.1:1";
    expect((await substituteTrust(top, [gone, cache], [trusted], { env: { NIX_SSHOPTS: "-oConnectTimeout=3 -oBatchMode=yes" } })).verdict).toBe("unknown");
    const err = await realise(top, { rootName: rootName(), rootDir: GC, substituters: [cache], trustedPublicKeys: [trusted] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsignedPathError);
    expect(await isValidPath(top)).toBe(false);
  });
});

describe("Nix's refusal read by meaning when oscd cannot check first", () => {
  it("an unsigned substitute under the newer wording is path-not-trusted, not a failed build", async () => {
    const { top, cache } = await inCacheOnly(async () => undefined);
    // No trusted keys given: oscd cannot check, Nix (require-sigs, no keys) refuses in its words.
    for (const env of [undefined, { PATH: `${newerNixBin()}:${process.env.PATH ?? ""}` }]) {
      const err = await realise(top, { rootName: rootName(), rootDir: GC, substituters: [cache], env }).catch((e: unknown) => e);
      expect(err, String(err)).toBeInstanceOf(UnsignedPathError);
      expect((err as UnsignedPathError).exitCode).toBe(3);
    }
  });

  it("a cache without the path is path-unavailable on either wording", async () => {
    const empty = `file://${join(dir, "empty")}`;
    await must("mkdir", ["-p", join(dir, "empty")]);
    for (const env of [undefined, { PATH: `${newerNixBin()}:${process.env.PATH ?? ""}` }]) {
      const err = await realise(`/nix/store/${"0".repeat(32)}-nothing-${uniqueMarker()}`, { rootName: rootName(), rootDir: GC, substituters: [empty], trustedPublicKeys: [trusted], env }).catch((e: unknown) => e);
      expect(err, String(err)).toBeInstanceOf(PathUnavailableError);
    }
    expect(await readdir(join(dir, "empty"))).toBeDefined();
  });
});
