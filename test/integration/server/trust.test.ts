import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addManifestSignature, serializeManifest, signManifest } from "../../../src/manifest/index.js";
import { generateSecretKey, publicKeyOf } from "../../../src/nix/index.js";
import { initTrust, nextRevocations, publishTrustDocument, serializeRevocations, serializeTrustRoot, signRevocations, signTrustRoot, urlSource, MachineTrust } from "../../../src/trust/index.js";
import { cappedGet } from "../../../src/agent/revoked.js";
import { fakeToplevel, manifestBody, startTestServer, type TestServer } from "../../harness/control-server.js";

/**
 * `oscd server --trust-dir`: a release is accepted only at its channel's release threshold (and
 * not revoked), the release list says who signed, and agents read the trust directory beside
 * their manifest URL with their token.
 */
const root = generateSecretKey("srv-root");
const [a, b, c] = ["srv-a", "srv-b", "srv-c"].map((n) => generateSecretKey(n)) as [ReturnType<typeof generateSecretKey>, ReturnType<typeof generateSecretKey>, ReturnType<typeof generateSecretKey>];
let dir: string;
let s: TestServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-server-trust-"));
  const t = signTrustRoot(initTrust({ rootKeys: [publicKeyOf(root)], releaseKeys: [a, b, c].map(publicKeyOf), releaseThreshold: 2, channels: ["production"], now: new Date() }), [root]);
  await publishTrustDocument(dir, { kind: "root", doc: t, text: serializeTrustRoot(t) });
  const list = signRevocations(nextRevocations(undefined, { channel: "production", sequences: [9], reason: "bad release", now: new Date() }), [a, b]);
  await publishTrustDocument(dir, { kind: "revocations", doc: list, text: serializeRevocations(list) });
  s = await startTestServer("sqlite", { trustDir: dir, trusted: [] });
});
afterAll(async () => {
  await s?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the control server with a trust directory", () => {
  it("refuses a release below its channel's threshold (422 manifest-threshold), accepts it at threshold and lists who signed", async () => {
    const one = signManifest(manifestBody("production", 1, ["web1"]), a);
    const r1 = await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(one) });
    expect(r1.status).toBe(422);
    expect(r1.json).toMatchObject({ error: { code: "manifest-threshold" } });
    const two = addManifestSignature(one, c).manifest;
    const r2 = await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(two) });
    expect(r2.status, r2.text).toBe(201);
    expect(r2.json).toMatchObject({ channel: "production", sequence: 1, signer: "srv-a, srv-c" });
    const list = await s.api("GET", "/api/v1/releases?channel=production", { token: s.admin });
    expect(list.json).toMatchObject({ releases: [{ sequence: 1, signer: "srv-a, srv-c" }] });
    // A channel the trust root does not name has no release keys at all.
    const other = signManifest(manifestBody("testing", 1, ["web1"]), [a, b]);
    expect((await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(other) })).json).toMatchObject({ error: { code: "manifest-untrusted" } });
  });

  it("refuses a revoked release (422 release-revoked)", async () => {
    const revoked = signManifest(manifestBody("production", 9, ["web1"]), [a, b]);
    const r = await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(revoked) });
    expect(r.status).toBe(422);
    expect(r.json).toMatchObject({ error: { code: "release-revoked" } });
  });

  it("serves the trust directory beside the manifest to a host token, and nothing else from it", async () => {
    const token = await s.hostToken("web1", { channel: "production" });
    const base = `${s.url.replace("://", `://x:${token}@`)}/api/v1/channels/production/trust/`;
    const t = MachineTrust.of({ keys: [`${root.name}:${root.publicKey.toString("base64")}`] });
    // The agent's walk, through the URL an agent derives from its manifest URL.
    const u = await t.update(urlSource(base), { channel: "production" });
    expect(u).toMatchObject({ walked: [1], revocations: 1 });
    expect(t.findRevoked({ channel: "production", sequence: 9 })).toBeDefined();
    void fakeToplevel;
    // The agent's own client with the host token from its file (services.oscd.agent.server.tokenFile).
    const tokenFile = join(dir, "..", `token-${process.pid}`);
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const viaAgent = MachineTrust.of({ keys: [`${root.name}:${root.publicKey.toString("base64")}`] });
    expect(await viaAgent.update(urlSource(`${s.url}/api/v1/channels/production/trust/`, cappedGet(30_000, tokenFile)), { channel: "production" })).toMatchObject({ walked: [1], revocations: 1 });
    await rm(tokenFile);
    expect((await s.api("GET", "/api/v1/channels/production/trust/..%2Fserver.db", { token })).status).toBe(404);
    expect((await s.api("GET", "/api/v1/channels/production/trust/root.json")).status).toBe(401);
  });
});
