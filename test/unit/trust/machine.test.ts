import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addManifestSignature } from "../../../src/manifest/index.js";
import { directorySource, MachineTrust, nextRevocations, serializeRevocations, serializeTrustRoot, signRevocations, verifyRootUpdate, type TrustRoot } from "../../../src/trust/index.js";
import { asyncCodeOf, at, codeOf, firstRoot, keys, manifest, nextRoot, pub, pubText, publishRoots, T0, TOP, TOP2 } from "./helpers.js";

let dir: string;
let n = 0;
const fresh = async () => join(dir, `case-${++n}`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-trust-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const [root1, root2] = keys("root", 2) as [never, never];
const [rel1, rel2, rel3] = keys("release", 3) as [never, never, never];
const fleet = keys("fleet", 1)[0] as never;

/** v1 (root-1, release-1) → v2 release-1 → release-2 → v3 release-2 → release-3 → v4 root-1 → root-2. */
function chain(): TrustRoot[] {
  const v1 = firstRoot([root1], [rel1], [root1]);
  const v2 = nextRoot(v1, { addReleaseKeys: [pub(rel2)], removeReleaseKeys: ["release-1"] }, [root1]);
  const v3 = nextRoot(v2, { addReleaseKeys: [pub(rel3)], removeReleaseKeys: ["release-2"] }, [root1]);
  const v4 = nextRoot(v3, { addRootKeys: [pub(root2)], removeRootKeys: ["root-1"] }, [root1, root2]);
  return [v1, v2, v3, v4];
}

describe("rotation walk", () => {
  it("walks every version one at a time, persists the highest, and then refuses what the first release key signs", async () => {
    const [v1, ...rest] = chain();
    const state = await fresh();
    const boot = join(state, "..", `boot-${n}.json`);
    await writeFile(boot, serializeTrustRoot(v1 as TrustRoot));
    const t = await MachineTrust.load({ stateDir: state, trustedPublicKeys: [], bootstrap: boot });
    expect(t.version).toBe(1);
    const src = join(state, "..", `src-${n}`);
    await publishRoots(src, [v1 as TrustRoot, ...rest]);
    const u = await t.update(directorySource(src));
    expect(u).toMatchObject({ from: 1, to: 4, walked: [2, 3, 4] });
    // Persisted: a new load (another process, after a restart) starts at 4, without the bootstrap.
    const again = await MachineTrust.load({ stateDir: state, trustedPublicKeys: [] });
    expect(again.version).toBe(4);
    expect(codeOf(() => again.verifyManifest(manifest(9, [rel1], { createdAt: at(10).toISOString() }), "m", at(11)))).toBe("manifest-untrusted");
    expect(codeOf(() => again.verifyManifest(manifest(9, [rel2], { createdAt: at(10).toISOString() }), "m", at(11)))).toBe("manifest-untrusted");
    expect(again.verifyManifest(manifest(9, [rel3], { createdAt: at(10).toISOString() }), "m", at(11)).signers.map((k) => k.name)).toEqual(["release-3"]);
  });

  it("refuses an older version (trust-rollback) and keeps the one it has when a mirror offers it", async () => {
    const [v1, v2, v3] = chain() as [TrustRoot, TrustRoot, TrustRoot];
    expect(codeOf(() => verifyRootUpdate(v3, serializeTrustRoot(v2), "2.root.json"))).toBe("trust-rollback");
    expect(codeOf(() => verifyRootUpdate(v2, serializeTrustRoot(v2), "2.root.json"))).toBe("trust-rollback");
    const state = await fresh();
    const src = join(state, "..", `src-${n}`);
    await publishRoots(src, [v1, v2, v3]);
    const t = MachineTrust.of(v1);
    await t.update(directorySource(src));
    expect(t.version).toBe(3);
    // The mirror now serves version 2 as the newest, and 3 again under 4's name.
    await writeFile(join(src, "root.json"), serializeTrustRoot(v2));
    expect(await t.update(directorySource(src))).toMatchObject({ offeredOlder: 2, to: 3, walked: [] });
    await writeFile(join(src, "root.json"), serializeTrustRoot({ ...v3, version: 4 }));
    await writeFile(join(src, "4.root.json"), serializeTrustRoot(v3));
    expect(await asyncCodeOf(() => t.update(directorySource(src)))).toBe("trust-rollback");
    expect(t.version).toBe(3);
  });

  it("refuses a skipped version: N+2 is not taken after N, and a missing step stops the walk", async () => {
    const [v1, v2, v3] = chain() as [TrustRoot, TrustRoot, TrustRoot];
    expect(codeOf(() => verifyRootUpdate(v1, serializeTrustRoot(v3), "3.root.json"))).toBe("trust-version-skip");
    const state = await fresh();
    const src = join(state, "..", `src-${n}`);
    await publishRoots(src, [v1, v2, v3]);
    await rm(join(src, "2.root.json"));
    const t = MachineTrust.of(v1);
    expect(await asyncCodeOf(() => t.update(directorySource(src)))).toBe("trust-root-missing");
    expect(t.version).toBe(1);
  });

  it("needs the previous version's root threshold and its own", () => {
    const [v1] = chain() as [TrustRoot];
    const onlyNew = nextRoot(v1, { addRootKeys: [pub(root2)], removeRootKeys: ["root-1"] }, [root2]);
    expect(codeOf(() => verifyRootUpdate(v1, serializeTrustRoot(onlyNew), "2.root.json"))).toBe("trust-threshold");
    const onlyOld = nextRoot(v1, { addRootKeys: [pub(root2)], removeRootKeys: ["root-1"] }, [root1]);
    expect(codeOf(() => verifyRootUpdate(v1, serializeTrustRoot(onlyOld), "2.root.json"))).toBe("trust-threshold");
    // Mix-and-match: version 2's signatures on another body count for nothing.
    const both = nextRoot(v1, { addRootKeys: [pub(root2)], removeRootKeys: ["root-1"] }, [root1, root2]);
    const forged = { ...nextRoot(v1, { addReleaseKeys: [pub(rel3)] }, []), signatures: both.signatures };
    expect(codeOf(() => verifyRootUpdate(v1, serializeTrustRoot(forged), "2.root.json"))).toBe("trust-threshold");
    expect(codeOf(() => verifyRootUpdate(v1, serializeTrustRoot(both), "2.root.json"))).toBe("accepted");
  });

  it("migration: a machine that trusts only the fleet key walks to version 1 when the fleet key signs it too", async () => {
    const v1 = firstRoot([root1], [rel1], [root1, fleet]);
    const state = await fresh();
    const src = join(state, "..", `src-${n}`);
    await publishRoots(src, [v1]);
    const old = await MachineTrust.load({ stateDir: state, trustedPublicKeys: [pubText(fleet)] });
    expect(old).toMatchObject({ implicit: true, version: 0 });
    // Before: the fleet key signs manifests and its key is the cache key, as always.
    expect(old.verifyManifest(manifest(1, [fleet]), "m", at(2)).signers.map((k) => k.name)).toEqual(["fleet-1"]);
    expect(old.cacheKeys([pubText(fleet)])).toEqual([pubText(fleet)]);
    await old.update(directorySource(src));
    expect(old).toMatchObject({ implicit: false, version: 1 });
    expect(old.cacheKeys([pubText(fleet)])).toEqual([pubText(rel1)]);
    expect(codeOf(() => old.verifyManifest(manifest(1, [fleet]), "m", at(2)))).toBe("manifest-untrusted");
    // A version 1 the fleet key did not sign is not taken by such a machine.
    const unsigned = firstRoot([root1], [rel1], [root1]);
    const state2 = await fresh();
    await publishRoots(join(state2, "src"), [unsigned]);
    const other = await MachineTrust.load({ stateDir: state2, trustedPublicKeys: [pubText(fleet)] });
    expect(await asyncCodeOf(() => other.update(directorySource(join(state2, "src"))))).toBe("trust-threshold");
    expect(other.version).toBe(0);
  });

  it("refuses a persisted trust root that was edited (trust-state-corrupt), never falling back to less checking", async () => {
    const state = await fresh();
    const v1 = firstRoot([root1], [rel1], [root1]);
    const boot = `${state}.root.json`;
    await writeFile(boot, serializeTrustRoot(v1));
    expect((await MachineTrust.load({ stateDir: state, trustedPublicKeys: [], bootstrap: boot })).version).toBe(1);
    // A whitespace change re-verifies (the canonical form is signed); an edited key does not.
    await writeFile(join(state, "trust", "root.json"), JSON.stringify(v1));
    expect((await MachineTrust.load({ stateDir: state, trustedPublicKeys: [] })).version).toBe(1);
    await writeFile(join(state, "trust", "root.json"), serializeTrustRoot({ ...v1, cacheKeys: [pubText(fleet)] }));
    await expect(MachineTrust.load({ stateDir: state, trustedPublicKeys: [pubText(fleet)] })).rejects.toMatchObject({ code: "trust-state-corrupt", exitCode: 3 });
  });
});

describe("freeze", () => {
  it("refuses to act on an expired trust root, checked at the one time given, and says freeze suspected", () => {
    const v1 = firstRoot([root1], [rel1], [root1], { validForMs: 48 * 3600_000 });
    const t = MachineTrust.of(v1);
    const m = manifest(1, [rel1]);
    expect(codeOf(() => t.verifyManifest(m, "m", at(47)))).toBe("accepted");
    let message = "";
    try {
      t.verifyManifest(m, "m", at(49));
    } catch (e) {
      message = (e as Error).message;
      expect(e).toMatchObject({ code: "trust-expired", exitCode: 3 });
    }
    expect(message).toMatch(/expired at .*freeze suspected/);
  });

  it("walks through expired intermediate versions; only the one it ends on must be fresh", async () => {
    const v1 = firstRoot([root1], [rel1], [root1], { validForMs: 3600_000 });
    const v2 = nextRoot(v1, { validForMs: 3600_000 }, [root1]);
    const v3 = nextRoot(v2, { validForMs: 30 * 24 * 3600_000 }, [root1]);
    const src = await fresh();
    await publishRoots(src, [v1, v2, v3]);
    const t = MachineTrust.of(v1);
    await t.update(directorySource(src));
    expect(t.version).toBe(3);
    expect(codeOf(() => t.verifyManifest(manifest(1, [rel1], { expiresAt: at(24 * 20).toISOString() }), "m", at(24 * 10)))).toBe("accepted");
  });
});

describe("threshold signatures on manifests", () => {
  const two = firstRoot([root1], [rel1, rel2, rel3], [root1], { releaseThreshold: 2 });

  it("refuses one signature of a 2-of-3 channel (manifest-threshold) and accepts it once a second key adds one", () => {
    const t = MachineTrust.of(two);
    const one = manifest(3, [rel1]);
    let err: { code?: string; message?: string; exitCode?: number } = {};
    try {
      t.verifyManifest(one, "main.json", at(2));
    } catch (e) {
      err = e as typeof err;
    }
    expect(err).toMatchObject({ code: "manifest-threshold", exitCode: 3 });
    expect(err.message).toMatch(/has 1 of the 2 release signatures the channel needs \(signed by release-1\)/);
    const signed = addManifestSignature(one, rel2);
    expect(signed.added).toBe(true);
    expect(t.verifyManifest(signed.manifest, "main.json", at(2)).signers.map((k) => k.name).sort()).toEqual(["release-1", "release-2"]);
    // The same key again is not a second approval.
    expect(addManifestSignature(one, rel1).added).toBe(false);
    expect(codeOf(() => t.verifyManifest({ ...one, signatures: [one.signatures[0] as string, one.signatures[0] as string] }, "m", at(2)))).toBe("manifest-threshold");
  });

  it("does not count a key's signature on a manifest signed before its rejectBefore", () => {
    const cut = nextRoot(firstRoot([root1], [rel1, rel2], [root1]), { rejectBefore: [{ name: "release-1", time: at(5).toISOString() }] }, [root1]);
    const t = MachineTrust.of(cut);
    expect(codeOf(() => t.verifyManifest(manifest(2, [rel1], { signedAt: at(4).toISOString() }), "m", at(6)))).toBe("manifest-untrusted");
    // Without signedAt the creation time is the signing time.
    expect(codeOf(() => t.verifyManifest(manifest(2, [rel1], { createdAt: at(4).toISOString() }), "m", at(6)))).toBe("manifest-untrusted");
    expect(codeOf(() => t.verifyManifest(manifest(2, [rel1], { createdAt: at(5.5).toISOString(), signedAt: at(5.5).toISOString() }), "m", at(6)))).toBe("accepted");
    expect(codeOf(() => t.verifyManifest(manifest(2, [rel2], { signedAt: at(4).toISOString() }), "m", at(6)))).toBe("accepted");
  });

  it("refuses mix-and-match: one host's entry from another signed manifest breaks the one signature over every host", () => {
    const t = MachineTrust.of(firstRoot([root1], [rel1], [root1]));
    const a = manifest(5, [rel1], { hosts: { web1: { toplevel: TOP, system: "x86_64-linux" }, web2: { toplevel: TOP, system: "x86_64-linux" } } });
    const b = manifest(6, [rel1], { hosts: { web1: { toplevel: TOP2, system: "x86_64-linux" }, web2: { toplevel: TOP2, system: "x86_64-linux" } } });
    const mixed = { ...a, hosts: { web1: b.hosts.web1 as never, web2: a.hosts.web2 as never } };
    expect(codeOf(() => t.verifyManifest(a, "m", at(2)))).toBe("accepted");
    expect(codeOf(() => t.verifyManifest(mixed, "m", at(2)))).toBe("manifest-untrusted");
  });
});

describe("fast-forward", () => {
  it("a huge sequence a removed key signed no longer holds the channel after the rotation, and what it signed before is refused", async () => {
    const { lastAppliedSequence, recordAppliedSequence } = await import("../../../src/activate/index.js");
    const v1 = firstRoot([root1], [rel1, rel2], [root1]);
    const layout = { stateDir: await fresh(), profile: "/nonexistent", gcrootDir: "/nonexistent", runDir: "/nonexistent" };
    // The leaked key release-1 got a machine to apply sequence 10^12.
    await recordAppliedSequence(layout, "main", 1e12, TOP, MachineTrust.of(v1).epoch("main"));
    expect(await lastAppliedSequence(layout, "main", MachineTrust.of(v1).epoch("main"))).toBe(1e12);
    const v2 = nextRoot(v1, { removeReleaseKeys: ["release-1"], now: at(10) }, [root1]);
    const t = MachineTrust.of(v2);
    const epoch = t.epoch("main");
    expect(epoch).toBe(at(10).toISOString());
    // The channel is not locked: no floor in the new epoch, so sequence 5 is newer than anything there.
    expect(await lastAppliedSequence(layout, "main", epoch)).toBeUndefined();
    const fresh5 = manifest(5, [rel2], { createdAt: at(11).toISOString(), expiresAt: at(100).toISOString() });
    expect(t.verifyManifest(fresh5, "m", at(12)).epoch).toBe(epoch);
    await recordAppliedSequence(layout, "main", 5, TOP2, epoch);
    expect(await lastAppliedSequence(layout, "main", epoch)).toBe(5);
    // A replay from before the rotation, even by a key still trusted, is refused.
    expect(codeOf(() => t.verifyManifest(manifest(4, [rel2], { createdAt: at(9).toISOString() }), "m", at(12)))).toBe("manifest-before-epoch");
    expect(JSON.parse(await readFile(join(layout.stateDir, "channels.json"), "utf8"))).toMatchObject({ main: { sequence: 5, epoch } });
  });
});

describe("revocation lists", () => {
  const v1 = firstRoot([root1], [rel1, rel2, rel3], [root1], { releaseThreshold: 2 });

  it("takes a list signed by the channel's release threshold, persists it, and finds revoked releases by sequence, commit and toplevel", async () => {
    const state = await fresh();
    const boot = `${state}.root.json`;
    await writeFile(boot, serializeTrustRoot(v1));
    const t = await MachineTrust.load({ stateDir: state, trustedPublicKeys: [], bootstrap: boot });
    const list = signRevocations(nextRevocations(undefined, { channel: "main", sequences: [7], toplevels: [TOP2], reason: "CVE-2026-1", now: at(1) }), [rel1, rel2]);
    const src = join(state, "src");
    await publishRoots(src, [v1]);
    await writeFile(join(src, "main.revocations.json"), serializeRevocations(list));
    expect(await t.update(directorySource(src), { channel: "main" })).toMatchObject({ revocations: 1 });
    const again = await MachineTrust.load({ stateDir: state, trustedPublicKeys: [] });
    expect(again.findRevoked({ channel: "main", sequence: 7 })?.what).toBe("release main #7");
    expect(again.findRevoked({ channel: "other", sequence: 7 })).toBeUndefined();
    expect(again.findRevoked({ toplevel: TOP2 })?.entry.reason).toBe("CVE-2026-1");
    expect(again.findRevoked({ channel: "main", sequence: 8, toplevel: TOP })).toBeUndefined();
    expect(codeOf(() => again.assertNotRevoked({ toplevel: TOP2 }, "x"))).toBe("release-revoked");
  });

  it("refuses a list below the threshold, of another channel (mix-and-match) or older than the one it has (rollback)", async () => {
    const t = MachineTrust.of(v1);
    const src = await fresh();
    await publishRoots(src, [v1]);
    const one = signRevocations(nextRevocations(undefined, { channel: "main", sequences: [7], reason: "x", now: at(1) }), [rel1]);
    await writeFile(join(src, "main.revocations.json"), serializeRevocations(one));
    expect(await asyncCodeOf(() => t.update(directorySource(src), { channel: "main" }))).toBe("revocations-untrusted");
    const other = signRevocations(nextRevocations(undefined, { channel: "testing", sequences: [7], reason: "x", now: at(1) }), [rel1, rel2]);
    await writeFile(join(src, "main.revocations.json"), serializeRevocations(other));
    expect(await asyncCodeOf(() => t.update(directorySource(src), { channel: "main" }))).toBe("revocations-channel");
    const l1 = signRevocations(nextRevocations(undefined, { channel: "main", sequences: [7], reason: "x", now: at(1) }), [rel1, rel2]);
    const l2 = signRevocations(nextRevocations(l1, { channel: "main", sequences: [8], reason: "y", now: at(2) }), [rel1, rel2]);
    await writeFile(join(src, "main.revocations.json"), serializeRevocations(l2));
    await t.update(directorySource(src), { channel: "main" });
    await writeFile(join(src, "main.revocations.json"), serializeRevocations(l1));
    expect(await asyncCodeOf(() => t.update(directorySource(src), { channel: "main" }))).toBe("revocations-rollback");
    expect(t.findRevoked({ channel: "main", sequence: 8 })).toBeDefined();
  });

  it("a list by release keys a rotation removed no longer counts (and cannot lock the channel)", () => {
    const l = signRevocations(nextRevocations(undefined, { channel: "main", sequences: [1, 2, 3], reason: "leaked key", now: at(1) }), [rel1, rel2]);
    const v2 = nextRoot(v1, { removeReleaseKeys: ["release-1", "release-2"], addReleaseKeys: [pub(keys("new", 1)[0] as never)], releaseThreshold: 1, now: at(3) }, [root1]);
    expect(MachineTrust.of(v1, [l]).findRevoked({ channel: "main", sequence: 2 })).toBeDefined();
    expect(MachineTrust.of(v2, [l]).findRevoked({ channel: "main", sequence: 2 })).toBeUndefined();
  });
});

describe("endless data", () => {
  it("stops reading a trust document at the cap, before parsing", async () => {
    const src = await fresh();
    await publishRoots(src, [firstRoot([root1], [rel1], [root1])]);
    await writeFile(join(src, "root.json"), Buffer.alloc(2 * 1024 * 1024, 0x20));
    const t = MachineTrust.of(firstRoot([root1], [rel1], [root1]));
    expect(await asyncCodeOf(() => t.update(directorySource(src)))).toBe("trust-too-large");
    await writeFile(join(src, "main.revocations.json"), Buffer.alloc(9 * 1024 * 1024, 0x20));
    await rm(join(src, "root.json"));
    expect(await asyncCodeOf(() => t.update(directorySource(src), { channel: "main" }))).toBe("trust-too-large");
  });
});

describe("endless data over http", () => {
  it.each([
    ["the global fetch (oscd activate --manifest, trust update)", undefined],
    ["the agent's own http client", "agent"],
  ])("cuts an endless answer at the cap through %s, and closes the connection", async (_name, which) => {
    const { createServer } = await import("node:http");
    let closed = false;
    let sent = 0;
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!closed && res.write(chunk)) sent += chunk.length;
        if (!closed) res.once("drain", pump);
      };
      res.on("close", () => (closed = true));
      pump();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const { urlSource } = await import("../../../src/trust/index.js");
      const get = which === "agent" ? (await import("../../../src/agent/revoked.js")).cappedGet(30_000) : undefined;
      const t = MachineTrust.of(firstRoot([root1], [rel1], [root1]));
      expect(await asyncCodeOf(() => t.update(urlSource(`http://127.0.0.1:${port}/channels/trust/`, get)))).toBe("trust-too-large");
      for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 20));
      expect(closed).toBe(true);
      expect(sent).toBeLessThan(64 * 1024 * 1024);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

void T0;
