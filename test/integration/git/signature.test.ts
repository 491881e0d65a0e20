import { readFile, symlink } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ToolMissingError } from "../../../src/core/errors.js";
import { run } from "../../../src/core/exec.js";
import { GitBadSignatureError, verifyCommitSignature } from "../../../src/git/index.js";
import { commit, g, initRepo, sh, TempDirs, writeText } from "./fixtures.js";

const tmp = new TempDirs();
afterAll(() => tmp.cleanup());

async function refusal(p: Promise<unknown>): Promise<GitBadSignatureError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(GitBadSignatureError);
  const err = e as GitBadSignatureError;
  expect(err.code).toBe("git-bad-signature");
  expect(err.exitCode).toBe(3);
  expect(err.hint).toBeTruthy();
  return err;
}

describe("SSH signatures", () => {
  let repo: string;
  let allowed: string;
  let trusted: string;
  let untrusted: string;
  let unsigned: string;
  let tampered: string;
  let aliceFingerprint: string;

  beforeAll(async () => {
    const root = await tmp.make("ssh-sig");
    const keys: Record<string, string> = {};
    for (const who of ["alice", "mallory"]) {
      keys[who] = join(root, `${who}_ed25519`);
      await sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", who, "-f", keys[who]]);
    }
    const alicePub = (await readFile(`${keys.alice}.pub`, "utf8")).trim();
    aliceFingerprint = (await sh("ssh-keygen", ["-l", "-E", "sha256", "-f", `${keys.alice}.pub`])).split(" ")[1] ?? "";
    allowed = join(root, "allowed_signers");
    await writeText(allowed, `alice@example.com namespaces="git" ${alicePub}\n`);

    repo = await initRepo(join(root, "repo"));
    const signWith = (key: string) => ["-c", "gpg.format=ssh", "-c", `user.signingKey=${key}`];
    trusted = await commit(repo, "signed by alice", { "a.txt": "1\n" }, [...signWith(keys.alice ?? ""), "-c", "commit.gpgSign=true"]);
    untrusted = await commit(repo, "signed by mallory", { "a.txt": "2\n" }, [...signWith(keys.mallory ?? ""), "-c", "commit.gpgSign=true"]);
    unsigned = await commit(repo, "not signed", { "a.txt": "3\n" });
    // Alice's signed commit object with its message changed afterwards.
    const raw = await g(repo, ["cat-file", "commit", trusted]);
    const forged = raw.replace("signed by alice", "signed by alice, honest") + "\n";
    tampered = (await run("git", ["-C", repo, "hash-object", "-t", "commit", "-w", "--stdin"], { timeoutMs: 30_000, input: forged })).stdout.trim();
  });

  it("verifies a commit signed by an allowed signer and names the signer", async () => {
    const v = await verifyCommitSignature(repo, trusted, { allowedSignersFile: allowed });
    expect(v).toEqual({ commit: trusted, format: "ssh", signer: "alice@example.com", key: aliceFingerprint });
    expect(aliceFingerprint).toMatch(/^SHA256:/);
  });

  it("refuses an unsigned commit", async () => {
    const e = await refusal(verifyCommitSignature(repo, unsigned, { allowedSignersFile: allowed }));
    expect(e.commit).toBe(unsigned);
    expect(e.reason).toContain("not signed");
    expect(e.message).toContain(unsigned);
  });

  it("refuses a commit signed by a key that is not an allowed signer", async () => {
    const e = await refusal(verifyCommitSignature(repo, untrusted, { allowedSignersFile: allowed }));
    expect(e.reason).toContain("not trusted");
    expect(e.reason).toMatch(/No principal matched/);
  });

  it("refuses a commit changed after it was signed", async () => {
    expect(tampered).toMatch(/^[0-9a-f]{40}$/);
    const e = await refusal(verifyCommitSignature(repo, tampered, { allowedSignersFile: allowed }));
    expect(e.reason).toMatch(/does not verify.*incorrect signature/);
  });

  it("refuses everything when the signer is revoked", async () => {
    const root = await tmp.make("revoked");
    const revoked = join(root, "revoked_keys");
    const line = (await readFile(allowed, "utf8")).split(" ").slice(2).join(" ");
    await writeText(revoked, line);
    const e = await refusal(verifyCommitSignature(repo, trusted, { allowedSignersFile: allowed, revocationFile: revoked }));
    expect(e.reason).toMatch(/does not verify/);
    // The same commit passes without the revocation list.
    expect((await verifyCommitSignature(repo, trusted, { allowedSignersFile: allowed })).signer).toBe("alice@example.com");
  });

  it("reports a missing allowed-signers file as configuration, not as a refusal", async () => {
    await expect(verifyCommitSignature(repo, trusted, { allowedSignersFile: join(repo, "nope") })).rejects.toMatchObject({
      code: "git-trust-missing",
      exitCode: 2,
    });
  });
});

describe("GPG signatures", () => {
  let repo: string;
  let signerHome: string;
  let verifierHome: string;
  let emptyHome: string;
  let fingerprint: string;
  let signed: string;
  let unsigned: string;

  beforeAll(async () => {
    const root = await tmp.make("gpg");
    signerHome = join(root, "signer");
    verifierHome = join(root, "verifier");
    emptyHome = join(root, "empty");
    for (const h of [signerHome, verifierHome, emptyHome]) await sh("install", ["-d", "-m", "700", h]);
    const params = [
      "%no-protection",
      "Key-Type: eddsa",
      "Key-Curve: ed25519",
      "Key-Usage: sign",
      "Name-Real: Release Signer",
      "Name-Email: signer@example.com",
      "Expire-Date: 0",
      "%commit",
      "",
    ].join("\n");
    await sh("gpg", ["--batch", "--gen-key"], { GNUPGHOME: signerHome }, params);
    const colons = await sh("gpg", ["--batch", "--with-colons", "--list-keys", "signer@example.com"], { GNUPGHOME: signerHome });
    fingerprint = colons.split("\n").find((l) => l.startsWith("fpr:"))?.split(":")[9] ?? "";
    const pub = await sh("gpg", ["--batch", "--armor", "--export", fingerprint], { GNUPGHOME: signerHome });
    await sh("gpg", ["--batch", "--import"], { GNUPGHOME: verifierHome }, pub);
    await sh("gpg", ["--batch", "--list-keys"], { GNUPGHOME: emptyHome });

    repo = await initRepo(join(root, "repo"));
    signed = await commit(
      repo,
      "gpg signed",
      { "a.txt": "1\n" },
      ["-c", "gpg.format=openpgp", "-c", "gpg.program=gpg", "-c", `user.signingKey=${fingerprint}`, "-c", "commit.gpgSign=true"],
      { GNUPGHOME: signerHome },
    );
    unsigned = await commit(repo, "not signed", { "a.txt": "2\n" });
  });

  afterAll(async () => {
    for (const h of [signerHome, verifierHome, emptyHome]) {
      if (h) await run("gpgconf", ["--kill", "all"], { timeoutMs: 30_000, env: { GNUPGHOME: h } }).catch(() => undefined);
    }
  });

  it("verifies a signed commit with a GnuPG home holding the public key", async () => {
    expect(fingerprint).toMatch(/^[0-9A-F]{40}$/);
    const v = await verifyCommitSignature(repo, signed, { gnupgHome: verifierHome });
    expect(v).toEqual({ commit: signed, format: "gpg", signer: "Release Signer <signer@example.com>", key: fingerprint });
  });

  it("refuses an unsigned commit", async () => {
    const e = await refusal(verifyCommitSignature(repo, unsigned, { gnupgHome: verifierHome }));
    expect(e.reason).toContain("not signed");
  });

  it("refuses a signed commit whose key is not in the GnuPG home", async () => {
    const e = await refusal(verifyCommitSignature(repo, signed, { gnupgHome: emptyHome }));
    expect(e.reason).toContain("cannot be checked");
  });

  it("reports a missing gpg as a missing tool, not as a refusal", async () => {
    const bin = await tmp.make("bin");
    await symlink(await sh("which", ["git"]), join(bin, "git"));
    const err = await verifyCommitSignature(repo, signed, { gnupgHome: verifierHome }, { env: { PATH: bin } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolMissingError);
    expect(err).toMatchObject({ code: "tool-missing", tool: "gpg" });
  });

  it("is not fooled by a repository configuring another format or program", async () => {
    await g(repo, ["config", "gpg.format", "ssh"]);
    await g(repo, ["config", "gpg.program", "/bin/true"]);
    try {
      expect((await verifyCommitSignature(repo, signed, { gnupgHome: verifierHome })).format).toBe("gpg");
      await refusal(verifyCommitSignature(repo, signed, { gnupgHome: emptyHome }));
    } finally {
      await g(repo, ["config", "--unset", "gpg.format"]);
      await g(repo, ["config", "--unset", "gpg.program"]);
    }
  });
});
