import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitUnsignedHistoryError, verifySignedHistory } from "../../../src/git/index.js";
import { commit, g, initRepo, sh, TempDirs, writeText } from "./fixtures.js";

/**
 * requireSignedHistory: every commit between the last deployed one and the new tip is verified,
 * with the same check as the tip (SSH allowed signers here), and the first that fails is named.
 */
const tmp = new TempDirs();
afterAll(() => tmp.cleanup());

let repo: string;
let allowed: string;
let sign: string[];
let signMallory: string[];
let base: string;

async function refused(p: Promise<unknown>): Promise<GitUnsignedHistoryError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(GitUnsignedHistoryError);
  const err = e as GitUnsignedHistoryError;
  expect(err.code).toBe("git-unsigned-history");
  expect(err.exitCode).toBe(3);
  expect(err.message).not.toContain("\n");
  return err;
}

beforeAll(async () => {
  const root = await tmp.make("signed-history");
  const keys: Record<string, string> = {};
  for (const who of ["alice", "mallory"]) {
    keys[who] = join(root, `${who}_ed25519`);
    await sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", who, "-f", keys[who]]);
  }
  allowed = join(root, "allowed_signers");
  await writeText(allowed, `alice@example.com namespaces="git" ${(await readFile(`${keys.alice}.pub`, "utf8")).trim()}\n`);
  sign = ["-c", "gpg.format=ssh", "-c", `user.signingKey=${keys.alice}`, "-c", "commit.gpgSign=true"];
  signMallory = ["-c", "gpg.format=ssh", "-c", `user.signingKey=${keys.mallory}`, "-c", "commit.gpgSign=true"];
  repo = await initRepo(join(root, "repo"));
  await commit(repo, "unsigned start of history", { "a.txt": "0\n" });
  base = await commit(repo, "deployed", { "a.txt": "1\n" }, sign);
});

describe("verifySignedHistory", () => {
  it("passes a range where every commit is signed by an allowed signer, and counts them", async () => {
    await g(repo, ["checkout", "-q", "-b", "all-signed", base]);
    await commit(repo, "s1", { "a.txt": "2\n" }, sign);
    const tip = await commit(repo, "s2", { "a.txt": "3\n" }, sign);
    // The unsigned commit before the deployed one is not in the range.
    expect(await verifySignedHistory(repo, base, tip, [{ allowedSignersFile: allowed }])).toBe(2);
  });

  it("refuses an unsigned commit under a signed tip, naming that commit, not the tip", async () => {
    await g(repo, ["checkout", "-q", "-b", "rides-in", base]);
    const s1 = await commit(repo, "signed", { "a.txt": "4\n" }, sign);
    const unsigned = await commit(repo, "unsigned, under the tip", { "a.txt": "5\n" });
    await commit(repo, "signed after it", { "a.txt": "6\n" }, sign);
    const tip = await commit(repo, "signed tip", { "a.txt": "7\n" }, sign);
    const e = await refused(verifySignedHistory(repo, base, tip, [{ allowedSignersFile: allowed }]));
    expect(e.commit).toBe(unsigned);
    expect(e.message).toBe(`commit ${unsigned.slice(0, 12)}, between the deployed ${base.slice(0, 12)} and ${tip.slice(0, 12)}, is refused: it is not signed`);
    expect(e.hint).toMatch(/requireSignedHistory/);
    // Up to the commit before it, the history is fine.
    expect(await verifySignedHistory(repo, base, s1, [{ allowedSignersFile: allowed }])).toBe(1);
  });

  it("refuses a commit signed by a key that is not allowed, and one that arrives through a signed merge", async () => {
    await g(repo, ["checkout", "-q", "-b", "mallory", base]);
    const bad = await commit(repo, "signed by mallory", { "m.txt": "1\n" }, signMallory);
    const tip = await commit(repo, "signed tip", { "a.txt": "8\n" }, sign);
    const e = await refused(verifySignedHistory(repo, base, tip, [{ allowedSignersFile: allowed }]));
    expect(e.commit).toBe(bad);
    expect(e.reason).toMatch(/not trusted/);

    await g(repo, ["checkout", "-q", "-b", "side", base]);
    const side = await commit(repo, "side branch, unsigned", { "side.txt": "1\n" });
    await g(repo, ["checkout", "-q", "-b", "merged", base]);
    await commit(repo, "main line, signed", { "a.txt": "9\n" }, sign);
    await g(repo, [...sign, "merge", "-q", "--no-ff", "-m", "signed merge", "side"]);
    const merge = await g(repo, ["rev-parse", "HEAD"]);
    expect((await refused(verifySignedHistory(repo, base, merge, [{ allowedSignersFile: allowed }]))).commit).toBe(side);
  });

  it("verifies the tip even when it is not ahead of the deployed commit, and refuses everything without a trust set", async () => {
    expect(await verifySignedHistory(repo, "all-signed", base, [{ allowedSignersFile: allowed }])).toBe(1);
    await refused(verifySignedHistory(repo, base, "all-signed", []));
  });
});
