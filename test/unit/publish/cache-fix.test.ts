import { describe, expect, it } from "vitest";
import { formatNarInfo, generateSecretKey, nixBase32, parseNarInfo, publicKeyOf, verifyNarInfo, type NarInfo, type PathInfo } from "../../../src/nix/index.js";
import { narInfoName, sameAsLocal, signedBy, type SigningKey } from "../../../src/publish/index.js";
import { cacheFiles, type CacheFiles } from "../../../src/publish/cache-files.js";
import { signVerifiedInCache } from "../../../src/publish/cache-fix.js";

const secret = generateSecretKey("fleet-1");
const key: SigningKey = { file: "/nonexistent", secret, public: publicKeyOf(secret) };
const P = `/nix/store/${"a".repeat(32)}-web1`;
const R = `/nix/store/${"b".repeat(32)}-lib`;
const sri = (b: number) => `sha256-${Buffer.alloc(32, b).toString("base64")}`;
const b32 = (b: number) => `sha256:${nixBase32(Buffer.alloc(32, b))}`;

const local: PathInfo = { path: P, narHash: sri(1), narSize: 1000, references: [R], signatures: [], valid: true };

function narinfo(over: Partial<NarInfo> = {}): NarInfo {
  return { storePath: P, url: "nar/x.nar.xz", compression: "xz", narHash: b32(1), narSize: 1000, references: [R.slice(11)], sigs: [], extra: [], ...over };
}

/** A cache in memory that can swap a file between the query and the read (a race). */
class MemoryCache implements CacheFiles {
  readonly files = new Map<string, Buffer>();
  readonly puts: string[] = [];
  async get(name: string): Promise<Buffer | undefined> {
    return this.files.get(name);
  }
  async put(name: string, data: Buffer): Promise<void> {
    this.puts.push(name);
    this.files.set(name, data);
  }
}

describe("comparing a cache's record with the local path", () => {
  it("is the same only for the same NAR hash, size and references", () => {
    const remote = { path: P, narHash: b32(1), narSize: 1000, references: [R], signatures: [], valid: true };
    expect(sameAsLocal(local, remote)).toBe(true);
    expect(sameAsLocal(local, { ...remote, narHash: sri(2) })).toBe(false);
    expect(sameAsLocal(local, { ...remote, narSize: 999 })).toBe(false);
    expect(sameAsLocal(local, { ...remote, references: [] })).toBe(false);
    expect(sameAsLocal(local, { ...remote, references: [R, P] })).toBe(false);
    expect(sameAsLocal(local, { ...remote, narHash: "md5-xyz" })).toBe(false);
    expect(sameAsLocal(local, { ...remote, narHash: "" })).toBe(false);
    expect(signedBy({ ...remote, signatures: ["fleet-1:junk"] }, key)).toBe(false);
  });
});

describe("signing in a cache", () => {
  it("signs a narinfo that describes the local bytes, over exactly the fields it compared", async () => {
    const cache = new MemoryCache();
    cache.files.set(narInfoName(P), Buffer.from(formatNarInfo(narinfo())));
    expect(await signVerifiedInCache(cache, [P], new Map([[P, local]]), key)).toEqual([]);
    const n = parseNarInfo((cache.files.get(narInfoName(P)) as Buffer).toString());
    expect(verifyNarInfo(n, [key.public])).toBe(true);
    expect(n.narHash).toBe(b32(1));
  });

  it("never signs a narinfo swapped for another NAR after the cache was queried: it is reported for re-upload", async () => {
    for (const forged of [narinfo({ narHash: b32(2) }), narinfo({ narSize: 5 }), narinfo({ references: [] }), narinfo({ storePath: `/nix/store/${"c".repeat(32)}-web1` })]) {
      const cache = new MemoryCache();
      cache.files.set(narInfoName(P), Buffer.from(formatNarInfo(forged)));
      expect(await signVerifiedInCache(cache, [P], new Map([[P, local]]), key)).toEqual([P]);
      expect(cache.puts).toEqual([]);
    }
    const damaged = new MemoryCache();
    damaged.files.set(narInfoName(P), Buffer.from("garbage"));
    expect(await signVerifiedInCache(damaged, [P], new Map([[P, local]]), key)).toEqual([P]);
    const gone = new MemoryCache();
    expect(await signVerifiedInCache(gone, [P], new Map([[P, local]]), key)).toEqual([P]);
  });

  it("writes its own files only in file:// and http(s):// caches; ssh and s3 get a refusal instead", () => {
    expect(cacheFiles("file:///srv/cache")).toBeDefined();
    expect(cacheFiles("https://user:pw@cache.example.org/nix?priority=40")).toBeDefined();
    expect(cacheFiles("ssh-ng://builder")).toBeUndefined();
    expect(cacheFiles("s3://bucket?region=x")).toBeUndefined();
  });
});
