import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { run } from "../../../src/core/exec.js";
import { formatNarInfo, formatPublicKey, formatSecretKey, generateSecretKey, nixBase32, parseNarInfo, pathInfo, publicKeyOf, verifyNarInfo } from "../../../src/nix/index.js";
import { narHashForSigning, narInfoName, parseManifest, serializeManifest, signManifest, verifyManifest, type Manifest } from "../../../src/publish/index.js";
import { FleetRepo, tempDir, uniqueMarker } from "../../harness/index.js";
import { HttpStore } from "../../unit/publish/http-store.js";
import { json, oscd } from "./helpers.js";

let dir: string;
let keyFile: string;
let pubFile: string;
const key = generateSecretKey("fleet-ci");
const pub = publicKeyOf(key);
const rootDir = "/nix/var/nix/gcroots/oscd-tests-publish";
const repos: FleetRepo[] = [];
let http: HttpStore;

beforeAll(async () => {
  dir = await tempDir("publish-int");
  keyFile = join(dir, "fleet.secret");
  pubFile = join(dir, "fleet.public");
  await writeFile(keyFile, formatSecretKey(key), { mode: 0o600 });
  await writeFile(pubFile, formatPublicKey(pub) + "\n");
  http = await HttpStore.start();
});
afterAll(async () => {
  await http?.stop();
  for (const r of repos) await r.destroy();
  await rm(dir, { recursive: true, force: true });
  await rm(rootDir, { recursive: true, force: true });
});

async function fleet(toml = ""): Promise<FleetRepo> {
  const m = uniqueMarker();
  const r = await FleetRepo.create({ hosts: ["web1", "web2", "db1"].map((name) => ({ name, marker: m })) });
  if (toml) await r.commitFile("oscd.toml", toml);
  repos.push(r);
  return r;
}

let n = 0;
function publishArgs(repo: FleetRepo, ...extra: string[]): string[] {
  return ["publish", "--repo", repo.dir, "--state-dir", join(dir, "state"), "--roots-dir", rootDir, ...extra];
}
const cacheDir = () => join(dir, `cache-${++n}`);

interface Summary {
  status: string;
  failed: string[];
  sequence: number;
  uploadedPaths: number;
  hosts: { name: string; build: string; entry: string; uploadedPaths: number; error?: { code: string; message: string } }[];
  carriedOver: string[];
  locations: { url: string; status: string }[];
  warnings: string[];
}

describe("oscd publish", () => {
  it("reads caches and trusted keys from oscd.toml, and writes --manifest-out too", async () => {
    const cache = cacheDir();
    const out = join(dir, "www", "channels");
    const repo = await fleet(`caches = ["file://${cache}"]\n[keys]\ntrusted = ["${formatPublicKey(pub)}"]\n`);
    const r = await oscd(publishArgs(repo, "--sign-key", keyFile, "--manifest-out", out, "--json"));
    expect(r.stderr).not.toMatch(/error/);
    expect(r.exitCode).toBe(0);
    const s = json<Summary>(r);
    expect(s).toMatchObject({ status: "written", sequence: 1, uploadedPaths: 5 });
    expect(s.warnings).toEqual([]);
    expect(s.locations.map((l) => l.status)).toEqual(["written", "written"]);
    const a = await readFile(join(cache, "channels", "main.json"), "utf8");
    expect(await readFile(join(out, "main.json"), "utf8")).toBe(a);
    expect((await readdir(out)).sort()).toEqual(["main.1.json", "main.json"]);
    const m = parseManifest(a);
    expect(verifyManifest(m, [pub]).name).toBe("fleet-ci");
    expect(m).toMatchObject({ channel: "main", ref: "main", version: "1.0.0", commit: await repo.head(), caches: [`file://${cache}`] });
    expect(Object.keys(m.hosts).sort()).toEqual(["db1", "web1", "web2"]);
    // Every path of every closure is in the cache, signed by the fleet key.
    const inCache = await pathInfo(Object.values(m.hosts).map((h) => h.toplevel), { store: `file://${cache}`, recursive: true });
    expect(inCache.length).toBe(5);
    for (const i of inCache) expect(i.signatures.some((sig) => sig.startsWith("fleet-ci:"))).toBe(true);
  });

  it("publishes only the selected hosts and carries the others over", async () => {
    const cache = cacheDir();
    const repo = await fleet();
    const first = json<Summary>(await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", `file://${cache}`, "--json")));
    await repo.commitHostChange("web1", uniqueMarker());
    await repo.commitHostChange("web2", uniqueMarker()); // changed too, but not selected
    const before = parseManifest(await readFile(join(cache, "channels", "main.json"), "utf8"));
    const r = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", `file://${cache}`, "--on", "web1", "--json"));
    expect(r.exitCode).toBe(0);
    const s = json<Summary>(r);
    expect(first.sequence).toBe(1);
    expect(s).toMatchObject({ status: "written", sequence: 2, carriedOver: ["db1", "web2"], uploadedPaths: 1 });
    expect(s.hosts).toEqual([expect.objectContaining({ name: "web1", build: "built", entry: "changed", uploadedPaths: 1 })]);
    const after = parseManifest(await readFile(join(cache, "channels", "main.json"), "utf8"));
    expect(after.hosts.web1?.toplevel).not.toBe(before.hosts.web1?.toplevel);
    expect(after.hosts.web2).toEqual(before.hosts.web2);
    expect(after.hosts.db1).toEqual(before.hosts.db1);
  });

  it("publishes to an http cache: closures with PUT, the manifest with conditional PUT; nothing twice", async () => {
    const repo = await fleet();
    const url = `${http.url}/cache-${++n}`;
    const r = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", url, "--json"));
    expect(r.stderr).not.toMatch(/error/);
    const s = json<Summary>(r);
    expect(s).toMatchObject({ status: "written", sequence: 1, uploadedPaths: 5 });
    const prefix = new URL(url).pathname;
    const files = [...http.files.keys()].filter((k) => k.startsWith(prefix));
    expect(files.filter((f) => f.endsWith(".narinfo"))).toHaveLength(5);
    expect(files).toContain(`${prefix}/channels/main.json`);
    expect(files).toContain(`${prefix}/channels/main.1.json`);
    const m = parseManifest((http.files.get(`${prefix}/channels/main.json`) as Buffer).toString());
    expect(verifyManifest(m, [pub]).name).toBe("fleet-ci");
    const inCache = await pathInfo(Object.values(m.hosts).map((h) => h.toplevel), { store: url, recursive: true });
    expect(inCache.every((i) => i.valid && i.signatures.some((sig) => sig.startsWith("fleet-ci:")))).toBe(true);

    const putsBefore = http.log.filter((l) => l.startsWith("PUT")).length;
    const again = json<Summary>(await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", url, "--json")));
    expect(again).toMatchObject({ status: "unchanged", sequence: 1, uploadedPaths: 0 });
    expect(http.log.filter((l) => l.startsWith("PUT")).length).toBe(putsBefore);

    // The cache is wiped (a new server at the same address): Nix must not trust what it remembers.
    for (const f of files) http.files.delete(f);
    const refilled = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", url, "--json"));
    expect(refilled.stderr).not.toMatch(/error/);
    expect(json<Summary>(refilled)).toMatchObject({ status: "written", sequence: 1, uploadedPaths: 5 });
    expect([...http.files.keys()].filter((k) => k.startsWith(prefix) && k.endsWith(".narinfo"))).toHaveLength(5);
  });

  it("on an http cache too: a narinfo pointing a fleet path at another NAR is replaced with the local bytes, signed; the rest signed in place", async () => {
    const repo = await fleet();
    const built = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", `file://${cacheDir()}`, "--json"));
    expect(built.exitCode, built.stderr).toBe(0);
    const tops = Object.fromEntries(json<{ hosts: { name: string; toplevel: string }[] }>(built).hosts.map((h) => [h.name, h.toplevel]));
    const url = `${http.url}/evil-${++n}`;
    const prefix = new URL(url).pathname;
    // Someone without the key copies the closures, unsigned, and points web1 at db1's NAR.
    const copied = await run("nix", ["copy", "--to", url, tops.web1 as string, tops.db1 as string], { timeoutMs: 120_000 });
    expect(copied.exitCode, copied.stderr).toBe(0);
    const name = (p: string) => `${prefix}/${narInfoName(p)}`;
    for (const [k, v] of http.files) if (k.startsWith(prefix) && k.endsWith(".narinfo")) http.files.set(k, Buffer.from(formatNarInfo({ ...parseNarInfo(v.toString()), sigs: [] })));
    const db1 = parseNarInfo((http.files.get(name(tops.db1 as string)) as Buffer).toString());
    const web1 = parseNarInfo((http.files.get(name(tops.web1 as string)) as Buffer).toString());
    http.files.set(name(tops.web1 as string), Buffer.from(formatNarInfo({ ...web1, url: db1.url, fileHash: db1.fileHash, fileSize: db1.fileSize, narHash: db1.narHash, narSize: db1.narSize })));

    const r = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", url, "--on", "web1,db1", "--json"));
    expect(r.exitCode, r.stderr).toBe(0);
    const c = json<{ caches: { replacedInCache: number; signedInCache: number }[] }>(r).caches[0];
    expect(c?.replacedInCache).toBe(1);
    expect(c?.signedInCache).toBeGreaterThan(0);
    const now = parseNarInfo((http.files.get(name(tops.web1 as string)) as Buffer).toString());
    const [local] = await pathInfo([tops.web1 as string]);
    expect(now.narHash).toBe(narHashForSigning(local?.narHash as string));
    expect(verifyNarInfo(now, [pub])).toBe(true);
    // The NAR file it names is the one its FileHash describes.
    const nar = http.files.get(`${prefix}/${now.url}`) as Buffer;
    expect(`sha256:${nixBase32(createHash("sha256").update(nar).digest())}`).toBe(now.fileHash);
    // Every path of both closures: the local bytes, signed.
    const inCache = await pathInfo([tops.web1 as string, tops.db1 as string], { store: url, recursive: true, settings: { "narinfo-cache-positive-ttl": "0" } });
    const locals = new Map((await pathInfo([tops.web1 as string, tops.db1 as string], { recursive: true })).map((i) => [i.path, i]));
    for (const i of inCache) {
      expect(i.narHash, i.path).toBe(locals.get(i.path)?.narHash);
      expect(i.signatures.some((sig) => sig.startsWith("fleet-ci:")), i.path).toBe(true);
    }
  });

  it("refuses a missing key and a key the fleet does not trust before building (exit 2)", async () => {
    const other = formatPublicKey(publicKeyOf(generateSecretKey("fleet-old")));
    const repo = await fleet(`[keys]\ntrusted = ["${other}"]\n`);
    const cache = `file://${cacheDir()}`;
    const missing = await oscd(publishArgs(repo, "--cache", cache), { env: { OSCD_SIGNING_KEY_FILE: undefined } });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/^oscd: error\[key-missing\]: no signing key: pass --sign-key FILE or set OSCD_SIGNING_KEY_FILE/);
    const absent = await oscd(publishArgs(repo, "--cache", cache), { env: { OSCD_SIGNING_KEY_FILE: join(dir, "absent.secret") } });
    expect(absent.exitCode).toBe(2);
    expect(absent.stderr).toMatch(/error\[key-missing\]: cannot read the signing key file .*absent.secret: ENOENT/);
    const wrong = await oscd(publishArgs(repo, "--cache", cache, "--sign-key", keyFile));
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toMatch(/error\[key-not-trusted\]: the signing key fleet-ci is not one of the fleet's trusted keys \(fleet-old\)/);
    expect(wrong.stderr).toContain(`add ${formatPublicKey(pub)} to keys.trusted`);
    const garbage = join(dir, "garbage.secret");
    await writeFile(garbage, "this is not a key");
    const bad = await oscd(publishArgs(repo, "--cache", cache, "--sign-key", garbage));
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/error\[key-format\]/);
    for (const r of [missing, absent, wrong, bad]) expect(r.stderr).not.toMatch(/evaluating/);
  });

  it("stops on an unreachable cache before building (exit 1)", async () => {
    const repo = await fleet();
    const closed = await HttpStore.start();
    await closed.stop();
    const r = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", `file://${cacheDir()}`, "--cache", closed.url));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`oscd: error\\[store-unreachable\\]: cannot reach the store ${closed.url}`));
    expect(r.stderr).not.toMatch(/evaluating|building/);
  });

  it("refuses to publish on top of a manifest edited by hand (exit 3), leaving it as it was", async () => {
    const cache = cacheDir();
    const repo = await fleet();
    expect((await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", `file://${cache}`))).exitCode).toBe(0);
    const file = join(cache, "channels", "main.json");
    const m = parseManifest(await readFile(file, "utf8"));
    const edited = serializeManifest({ ...m, hosts: { ...m.hosts, web1: m.hosts.db1 as Manifest["hosts"][string] } });
    await writeFile(file, edited);
    await repo.commitHostChange("web2", "next");
    const r = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", `file://${cache}`));
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/oscd: error\[manifest-untrusted\]: .*main.json is not signed by a trusted key: the signature by fleet-ci does not match the content/);
    expect(r.stderr).not.toMatch(/evaluating/);
    expect(await readFile(file, "utf8")).toBe(edited);
  });

  it("writes no manifest when every selected host fails (exit 1)", async () => {
    const repo = await fleet();
    await repo.commitFile("hosts/db1.nix", '{ hostname = throw "db1 is broken"; marker = ""; }\n');
    const cache = cacheDir();
    const r = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", `file://${cache}`, "--on", "db1", "--json"));
    expect(r.exitCode).toBe(1);
    expect(json<Summary>(r)).toMatchObject({ status: "not-written", failed: ["db1"], hosts: [expect.objectContaining({ name: "db1", entry: "absent" })] });
    expect(r.stderr).toMatch(/error\[hosts-failed\]: 1 of 1 host\(s\) failed: db1 \(evaluate: .*db1 is broken/);
    await expect(readdir(join(cache, "channels"))).rejects.toThrow(/ENOENT/);
  });

  it("keeps credentials out of the manifest and the progress lines", async () => {
    const cache = cacheDir();
    const repo = await fleet();
    const url = `file://${cache}?secret-key=${keyFile}&compression=xz`;
    const r = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", url, "--json"));
    expect(r.exitCode, r.stderr).toBe(0);
    const text = await readFile(join(cache, "channels", "main.json"), "utf8");
    expect(parseManifest(text).caches).toEqual([`file://${cache}?compression=xz`]);
    for (const out of [text, r.stdout, r.stderr]) expect(out).not.toContain(keyFile);
    expect(r.stderr).toMatch(/uploaded to file:\/\/.*\?compression=xz/);
    // Nor in errors: an unreachable cache with a password in its URL.
    const down = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", "http://ci:hunter2@127.0.0.1:1/cache?token=t0ps3cret"));
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toMatch(/error\[store-unreachable\]/);
    expect(down.stderr).not.toMatch(/hunter2|t0ps3cret/);
  });

  it("refuses a channel name that is not one of the fleet's own channels, e.g. toString or ../x (exit 2)", async () => {
    const repo = await fleet();
    for (const name of ["toString", "constructor", "__proto__", "../x"]) {
      const r = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", `file://${cacheDir()}`, "--channel", name));
      expect(r.exitCode, `${name}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/error\[(no-such-channel|bad-channel)\]/);
      expect(r.stderr).not.toMatch(/evaluating/);
    }
  });

  it("refuses a discovered host whose name a manifest cannot hold, before building or uploading (exit 2)", async () => {
    const cache = cacheDir();
    const repo = await fleet();
    await repo.commitFile("flake.nix", (await readFile(join(repo.dir, "flake.nix"), "utf8")).replace("web1 = {", '"web1.example" = {'));
    const r = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", `file://${cache}`));
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^oscd: error\[bad-host-name\]: the fleet has host name\(s\) a manifest cannot hold: "web1.example"$/m);
    expect(r.stderr).not.toMatch(/building|uploading|internal/);
    // Left out with --on, the others publish.
    const others = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", `file://${cache}`, "--on", "web2,db1"));
    expect(others.exitCode, others.stderr).toBe(0);
  });

  it("sets expiresAt from --valid-for; --refresh re-signs the verified current content with a new sequence and expiry", async () => {
    const cache = cacheDir();
    const repo = await fleet(`caches = ["file://${cache}"]\n[keys]\ntrusted = ["${formatPublicKey(pub)}"]\n`);
    const before = Date.now();
    const first = await oscd(publishArgs(repo, "--sign-key", keyFile, "--valid-for", "2h", "--json"));
    expect(first.exitCode, first.stderr).toBe(0);
    const file = join(cache, "channels", "main.json");
    const m1 = parseManifest(await readFile(file, "utf8"));
    const created1 = Date.parse(m1.createdAt);
    expect(created1).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(m1.expiresAt as string) - created1).toBe(2 * 3_600_000);
    // Same commit, less than half of 2h gone: nothing new.
    expect(json<Summary>(await oscd(publishArgs(repo, "--sign-key", keyFile, "--valid-for", "2h", "--json")))).toMatchObject({ status: "unchanged", sequence: 1 });
    // The same commit with a longer validity: more than half of it is missing, so a new sequence.
    expect(json<Summary>(await oscd(publishArgs(repo, "--sign-key", keyFile, "--valid-for", "1d", "--json")))).toMatchObject({ status: "written", sequence: 2 });

    const r = await oscd(publishArgs(repo, "--sign-key", keyFile, "--refresh", "--valid-for", "3d", "--json"));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/evaluating|building|uploading/);
    const rep = json<{ sequence: number; previousSequence: number; expiresAt: string; createdAt: string }>(r);
    expect(rep).toMatchObject({ sequence: 3, previousSequence: 2 });
    const m3 = parseManifest(await readFile(file, "utf8"));
    expect(verifyManifest(m3, [pub]).name).toBe("fleet-ci");
    expect(m3).toMatchObject({ sequence: 3, expiresAt: rep.expiresAt, createdAt: rep.createdAt, hosts: m1.hosts, commit: m1.commit, version: m1.version });
    expect(Date.parse(m3.expiresAt as string) - Date.parse(m3.createdAt)).toBe(3 * 24 * 3_600_000);
    const text = await oscd(publishArgs(repo, "--sign-key", keyFile, "--refresh"));
    expect(text.stdout).toMatch(/^channel main: sequence 4 written \(previous 3\), same content, expires \S+Z$/m);

    // A current manifest that does not verify is not refreshed: refused, left as it was.
    const good = await readFile(file, "utf8");
    await writeFile(file, good.replace(m1.commit, "d".repeat(40)));
    const refused = await oscd(publishArgs(repo, "--sign-key", keyFile, "--refresh"));
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toMatch(/error\[manifest-untrusted\]/);
    expect(await readdir(join(cache, "channels"))).not.toContain("main.5.json");
    await writeFile(file, good);

    // Nothing to refresh on an empty channel; --on makes no sense with it.
    const empty = await oscd(publishArgs(repo, "--sign-key", keyFile, "--refresh", "--cache", `file://${cacheDir()}`));
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toMatch(/error\[nothing-to-refresh\]: channel main has no manifest at file:\/\/\S+ to refresh/);
    expect((await oscd(publishArgs(repo, "--sign-key", keyFile, "--refresh", "--on", "web1"))).exitCode).toBe(2);
    const bad = await oscd(publishArgs(repo, "--sign-key", keyFile, "--valid-for", "forever"));
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/error\[bad-validity\]/);
  });

  it("names what is missing: a cache, a manifest location, a channel (exit 2)", async () => {
    const repo = await fleet();
    const noCache = await oscd(publishArgs(repo, "--sign-key", keyFile));
    expect(noCache.exitCode).toBe(2);
    expect(noCache.stderr).toMatch(/error\[no-cache\]: no binary cache to publish to/);
    const sshOnly = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", "ssh-ng://builder.invalid"));
    expect(sshOnly.exitCode).toBe(2);
    expect(sshOnly.stderr).toMatch(/error\[no-manifest-location\]/);
    expect(sshOnly.stderr).toMatch(/--manifest-out/);
    // Debian's Nix 2.8 is built without S3: named as such, before anything is built.
    const s3 = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", "s3://fleet-cache?region=eu-west-1", "--manifest-out", join(dir, "s3-channels")));
    expect(s3.exitCode).toBe(2);
    expect(s3.stderr).toMatch(/error\[store-unsupported\]: this Nix cannot open s3:\/\/fleet-cache \(it was built without S3 support\)/);
    expect(s3.stderr).not.toMatch(/evaluating/);
    const channel = await oscd(publishArgs(repo, "--sign-key", keyFile, "--cache", `file://${cacheDir()}`, "--channel", "stable"));
    expect(channel.exitCode).toBe(2);
    expect(channel.stderr).toMatch(/error\[no-such-channel\]: the fleet has no channel stable/);
    const help = await oscd(["publish", "--help"]);
    expect(help.stdout).toMatch(/Examples:\n {2}OSCD_SIGNING_KEY_FILE=/);
  });
});

describe("oscd manifest", () => {
  it("verifies a signed manifest, and refuses an edited, foreign or older one with exit 3", async () => {
    const base = {
      schema: "oscd.manifest/v1" as const,
      channel: "main",
      version: "1.0.0",
      commit: "c".repeat(40),
      ref: "main",
      createdAt: "2025-05-05T05:05:05.000Z",
      expiresAt: "2099-05-05T05:05:05.000Z",
      hosts: { web1: { toplevel: `/nix/store/${"1".repeat(32)}-nixos-system-web1`, system: "x86_64-linux" } },
      caches: ["file:///srv/cache"],
    };
    const m5 = join(dir, "m5.json");
    const m4 = join(dir, "m4.json");
    await writeFile(m5, serializeManifest(signManifest({ ...base, sequence: 5 }, key)));
    await writeFile(m4, serializeManifest(signManifest({ ...base, sequence: 4 }, key)));
    const ok = await oscd(["manifest", "verify", m5, "--trusted-key", pubFile, "--previous", m4]);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toMatch(/^ok: channel main sequence 5 \(1.0.0, cccccccccccc\) signed by fleet-ci; expires 2099-05-05T05:05:05.000Z; newer than --previous/);
    const inline = await oscd(["manifest", "verify", m5, "--trusted-key", formatPublicKey(pub), "--json"]);
    expect(json<{ ok: boolean; signer: string }>(inline)).toMatchObject({ ok: true, signer: "fleet-ci" });

    const backwards = await oscd(["manifest", "verify", m4, "--trusted-key", pubFile, "--previous", m5]);
    expect(backwards.exitCode).toBe(3);
    expect(backwards.stderr).toMatch(/error\[manifest-sequence\]: channel main: sequence went backwards \(4 after 5\)/);
    const edited = join(dir, "edited.json");
    await writeFile(edited, (await readFile(m5, "utf8")).replace("1".repeat(32), "2".repeat(32)));
    const e = await oscd(["manifest", "verify", edited, "--trusted-key", pubFile]);
    expect(e.exitCode).toBe(3);
    expect(e.stderr).toMatch(/error\[manifest-untrusted\]/);
    const foreign = await oscd(["manifest", "verify", m5, "--trusted-key", formatPublicKey(publicKeyOf(generateSecretKey("someone")))]);
    expect(foreign.exitCode).toBe(3);
    expect(foreign.stderr).toMatch(/it is signed by fleet-ci; trusted: someone/);
    const noKey = await oscd(["manifest", "verify", m5]);
    expect(noKey.exitCode).toBe(2);
    const missing = await oscd(["manifest", "verify", join(dir, "nope.json"), "--trusted-key", pubFile]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/error\[manifest-missing\]/);
  });

  it("verify refuses an expired manifest as a hold-back (exit 3), and one without expiry, unless told to ignore expiry", async () => {
    const base = {
      schema: "oscd.manifest/v1" as const,
      channel: "main",
      sequence: 3,
      version: "1.0.0",
      commit: "c".repeat(40),
      ref: "main",
      createdAt: "2025-05-05T05:05:05.000Z",
      hosts: {},
      caches: [],
    };
    const expired = join(dir, "expired.json");
    await writeFile(expired, serializeManifest(signManifest({ ...base, expiresAt: "2025-05-12T05:05:05.000Z" }, key)));
    const r = await oscd(["manifest", "verify", expired, "--trusted-key", pubFile]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/^oscd: error\[manifest-expired\]: channel main sequence 3 expired at 2025-05-12T05:05:05.000Z \(now .*\): this machine is being held back \(a stopped CI or a freeze attack\), so the manifest is refused$/m);
    const ignored = await oscd(["manifest", "verify", expired, "--trusted-key", pubFile, "--ignore-expiry", "--json"]);
    expect(json<{ ok: boolean; expired: boolean; expiryChecked: boolean }>(ignored)).toMatchObject({ ok: true, expired: true, expiryChecked: false });
    const never = join(dir, "never.json");
    await writeFile(never, serializeManifest(signManifest(base, key)));
    const n = await oscd(["manifest", "verify", never, "--trusted-key", pubFile]);
    expect(n.exitCode).toBe(3);
    expect(n.stderr).toMatch(/error\[manifest-no-expiry\]/);
    const shown = await oscd(["manifest", "show", expired, "--trusted-key", pubFile]);
    expect(shown.stdout).toMatch(/expires\s+2025-05-12T05:05:05.000Z \(expired\)/);
  });

  it("manifest show --channel reads only a channel of the cache: ../../x and the like are refused (exit 2)", async () => {
    const cache = join(dir, "trav", "a", "cache");
    const m = signManifest(
      {
        schema: "oscd.manifest/v1",
        channel: "main",
        sequence: 1,
        version: "1.0.0",
        commit: "c".repeat(40),
        ref: "main",
        createdAt: "2025-05-05T05:05:05.000Z",
        hosts: {},
        caches: [],
      },
      key,
    );
    // A signed manifest outside the cache, where `channels/../../x.json` points.
    await mkdir(join(cache, "channels"), { recursive: true });
    await writeFile(join(dir, "trav", "a", "x.json"), serializeManifest(m));
    for (const name of ["../../x", "../main", "a.b"]) {
      const r = await oscd(["manifest", "show", "--channel", name, "--cache", `file://${cache}`, "--trusted-key", pubFile]);
      expect(r.exitCode, `${name}: ${r.stdout}`).toBe(2);
      expect(r.stderr).toMatch(/error\[bad-channel\]/);
      expect(r.stdout).toBe("");
    }
  });

  it("shows the channel manifest of the fleet's cache, checked with the fleet's trusted keys", async () => {
    const cache = cacheDir();
    const repo = await fleet(`caches = ["file://${cache}"]\n[keys]\ntrusted = ["${formatPublicKey(pub)}"]\n`);
    expect((await oscd(publishArgs(repo, "--sign-key", keyFile))).exitCode).toBe(0);
    const shown = await oscd(["manifest", "show"], { cwd: repo.dir });
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toMatch(/^channel\s+main\nsequence\s+1\nversion\s+1.0.0\n/);
    expect(shown.stdout).toMatch(/signed by\s+fleet-ci \(verified\)/);
    expect(shown.stdout).toMatch(/\nHOST\s+SYSTEM\s+TOPLEVEL\ndb1\s+x86_64-linux\s+\/nix\/store\/\S+-nixos-system-db1-1.0.0\n/);
    const asJson = json<Manifest & { verifiedBy: string }>(await oscd(["manifest", "show", "--json", "--repo", repo.dir]));
    expect(asJson).toMatchObject({ sequence: 1, verifiedBy: "fleet-ci" });
    const file = join(cache, "channels", "main.json");
    await writeFile(file, (await readFile(file, "utf8")).replace('"sequence": 1', '"sequence": 9'));
    const tampered = await oscd(["manifest", "show", file, "--trusted-key", pubFile]);
    expect(tampered.exitCode).toBe(3);
    expect((await oscd(["manifest", "show", "--help"])).stdout).toMatch(/Examples:/);
  });
});
