import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetRepo, SimHost, must, tempDir, uniqueMarker } from "../harness/index.js";
import { machineHost, releasedFleet, toplevelAt, upgradeOn, wholeGeneration } from "./upgrade-helpers.js";

/**
 * `oscd upgrade` with commit signing keys in /etc/oscd/machine.toml: only a signed commit is
 * built; with requireSignedHistory (or --require-signed-history) every commit since the running
 * release's too, so an unsigned commit cannot ride in under a signed one.
 */
let fleet: FleetRepo;
let v110: string;
let host: SimHost;
let key: string;
let signers: string;
let machineToml: string;

beforeAll(async () => {
  ({ fleet, v110 } = await releasedFleet());
  const dir = await tempDir("upgrade-signed");
  key = join(dir, "signer");
  await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "release-signer", "-f", key]);
  signers = join(dir, "allowed_signers");
  await writeFile(signers, `ci@example.org ${(await readFile(`${key}.pub`, "utf8")).trim()}\n`);
  host = await machineHost("web1", fleet);
  machineToml = await readFile(host.path("/etc/oscd/machine.toml"), "utf8");
});
afterAll(async () => {
  await host?.destroy();
  await fleet?.destroy();
});

const signedCommit = async (marker: string) => {
  await fleet.git(["config", "gpg.format", "ssh"]);
  await fleet.git(["config", "user.signingkey", key]);
  await fleet.git(["config", "commit.gpgSign", "true"]);
  try {
    return await fleet.commitHostChange("web1", marker);
  } finally {
    await fleet.git(["config", "--unset", "commit.gpgSign"]);
  }
};

describe("oscd upgrade with commit signing keys", () => {
  it("refuses an unsigned commit under a signed tip with --require-signed-history or the machine's setting, naming it; accepts the signed tip without", async () => {
    // Without keys, as before: v1.1.0 (unsigned) is installed.
    expect((await upgradeOn(host, ["--tag", "v1.1.0"])).exitCode).toBe(0);
    const running = await toplevelAt(fleet, v110);
    await fleet.git(["checkout", "-q", "-b", "signed", v110]);
    const unsigned = await fleet.commitHostChange("web1", `unsigned-${uniqueMarker()}`);
    const tip = await signedCommit(`signed-${uniqueMarker()}`);
    await fleet.git(["checkout", "-q", "main"]);
    await writeFile(host.path("/etc/oscd/machine.toml"), `${machineToml}allowedSignersPath = "${signers}"\n`);

    const r = await upgradeOn(host, ["--branch", "signed", "--require-signed-history"]);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`^oscd: error\\[git-unsigned-history\\]: commit ${unsigned.slice(0, 12)}, between the deployed ${v110.slice(0, 12)} and ${tip.slice(0, 12)}, is refused: it is not signed$`, "m"));
    expect(r.stderr).not.toMatch(/│ build /);
    expect(await wholeGeneration(host)).toEqual({ toplevel: running, consistent: true, journalOpen: false, locked: false });

    await writeFile(host.path("/etc/oscd/machine.toml"), `${machineToml}allowedSignersPath = "${signers}"\nrequireSignedHistory = true\n`);
    const bySetting = await upgradeOn(host, ["--branch", "signed"]);
    expect(bySetting.exitCode).toBe(3);
    expect(bySetting.stderr).toMatch(/error\[git-unsigned-history\]/);

    // Keys alone check the tip, as the agent does: the signed tip is built and activated.
    await writeFile(host.path("/etc/oscd/machine.toml"), `${machineToml}allowedSignersPath = "${signers}"\n`);
    const ok = await upgradeOn(host, ["--branch", "signed"]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(new RegExp(`│ verify\\s+${tip.slice(0, 12)} signed by ci@example\\.org`));
    // The line the refusal above must not have reached.
    expect(ok.stderr).toMatch(/│ build /);
    expect(await wholeGeneration(host)).toMatchObject({ toplevel: await toplevelAt(fleet, tip), consistent: true });
  });

  it("with keys, refuses an unsigned tip and a local tree; --require-signed-history without keys is a usage error", async () => {
    await writeFile(host.path("/etc/oscd/machine.toml"), `${machineToml}allowedSignersPath = "${signers}"\n`);
    const before = await wholeGeneration(host);
    await fleet.git(["checkout", "-q", "signed"]);
    const unsignedTip = await fleet.commitHostChange("web1", `unsigned-tip-${uniqueMarker()}`);
    await fleet.git(["checkout", "-q", "main"]);
    const r = await upgradeOn(host, ["--branch", "signed"]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`^oscd: error\\[git-bad-signature\\]: commit ${unsignedTip} is refused: it is not signed`, "m"));
    const local = await upgradeOn(host, ["--local", fleet.dir]);
    expect(local.exitCode).toBe(3);
    expect(local.stderr).toMatch(/^oscd: error\[source-unsigned\]: .* is a working tree, not a signed commit/m);
    expect(await wholeGeneration(host)).toEqual(before);

    await writeFile(host.path("/etc/oscd/machine.toml"), machineToml);
    const noKeys = await upgradeOn(host, ["--branch", "signed", "--require-signed-history"]);
    expect(noKeys.exitCode).toBe(2);
    expect(noKeys.stderr).toMatch(/^oscd: error\[signed-history-no-keys\]: --require-signed-history needs the keys to check signatures with/m);
    await writeFile(host.path("/etc/oscd/machine.toml"), `${machineToml}requireSignedHistory = true\n`);
    const badToml = await upgradeOn(host, ["--branch", "signed"]);
    expect(badToml.exitCode).toBe(2);
    expect(badToml.stderr).toMatch(/error\[fleet-config\]: \/etc\/oscd\/machine\.toml: requireSignedHistory: signed history needs the keys to check it with/);
  });
});
