import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guard, type GuardInput } from "../../../src/activate/guard.js";
import { GuardError } from "../../../src/core/errors.js";

let dir: string;
const ID = "0123456789abcdef0123456789abcdef";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-guard-"));
  await writeFile(join(dir, "machine-id"), `${ID}\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
/** A directory shaped like a toplevel with the given etc files (undefined = absent). */
async function toplevel(etc: { hostname?: string; machineId?: string }): Promise<string> {
  const t = join(dir, `toplevel-${n++}`);
  await mkdir(join(t, "etc"), { recursive: true });
  if (etc.hostname !== undefined) await writeFile(join(t, "etc", "hostname"), etc.hostname);
  if (etc.machineId !== undefined) await writeFile(join(t, "etc", "machine-id"), etc.machineId);
  return t;
}

function input(t: string, over: Partial<GuardInput> = {}): GuardInput {
  return { toplevel: t, host: "web1", machineIdFile: join(dir, "machine-id"), release: {}, failed: [], allowDowngrade: false, retryFailed: false, ...over };
}

async function refusal(g: GuardInput): Promise<string | undefined> {
  const e = await guard(g).then(() => undefined, (x: unknown) => x);
  if (e === undefined) return undefined;
  expect(e).toBeInstanceOf(GuardError);
  expect((e as GuardError).exitCode).toBe(3);
  expect((e as GuardError).message).not.toContain("\n");
  return (e as GuardError).code;
}

describe("guard: a check that cannot be made is a refusal", () => {
  it("refuses a toplevel without or with an empty etc/hostname, unless the host check is given up", async () => {
    const none = await toplevel({});
    const empty = await toplevel({ hostname: " \n" });
    expect(await refusal(input(none))).toBe("host-unverifiable");
    expect(await refusal(input(empty))).toBe("host-unverifiable");
    expect(await refusal(input(none, { allowUnchecked: { host: true } }))).toBeUndefined();
    // Giving up the check when it cannot be made never lets another host's system through.
    expect(await refusal(input(await toplevel({ hostname: "web2\n" }), { allowUnchecked: { host: true } }))).toBe("wrong-host");
    expect(await refusal(input(await toplevel({ hostname: "web1\n" })))).toBeUndefined();
  });

  it("refuses a machine id that cannot be compared: empty or malformed in the toplevel, missing here", async () => {
    expect(await refusal(input(await toplevel({ hostname: "web1", machineId: "\n" })))).toBe("machine-id-unverifiable");
    expect(await refusal(input(await toplevel({ hostname: "web1", machineId: "not-an-id\n" })))).toBe("machine-id-unverifiable");
    const pinned = await toplevel({ hostname: "web1", machineId: `${ID}\n` });
    expect(await refusal(input(pinned, { machineIdFile: join(dir, "no-such-machine-id") }))).toBe("machine-id-unverifiable");
    expect(await refusal(input(pinned, { machineIdFile: join(dir, "no-such-machine-id"), allowUnchecked: { machineId: true } }))).toBeUndefined();
    expect(await refusal(input(pinned))).toBeUndefined();
    expect(await refusal(input(await toplevel({ hostname: "web1", machineId: `${"f".repeat(32)}\n` })))).toBe("wrong-machine");
  });

  it("refuses a version that is not semver against a recorded one, unless the version check is given up", async () => {
    const t = await toplevel({ hostname: "web1" });
    const current = { generation: 3, toplevel: "/nix/store/x", deploymentId: "d", mode: "switch", createdAt: "", version: "1.2.0" };
    expect(await refusal(input(t, { release: { version: "0a1b2c3d4e5f" }, current }))).toBe("version-unverifiable");
    expect(await refusal(input(t, { release: { version: "1.3.0" }, current: { ...current, version: "0a1b2c3d4e5f" } }))).toBe("version-unverifiable");
    expect(await refusal(input(t, { release: { version: "0a1b2c3d4e5f" }, current, allowUnchecked: { version: true } }))).toBeUndefined();
    expect(await refusal(input(t, { release: { version: "0a1b2c3d4e5f" }, current, allowDowngrade: true }))).toBeUndefined();
    expect(await refusal(input(t, { release: { version: "1.1.0" }, current }))).toBe("downgrade");
    expect(await refusal(input(t, { release: { version: "1.3.0" }, current }))).toBeUndefined();
  });

  it("refuses a system whose release is unknown on a machine that runs a release, unless its release is given or the check given up", async () => {
    const t = await toplevel({ hostname: "web1" });
    const current = { generation: 3, toplevel: "/nix/store/running", deploymentId: "d", mode: "switch", createdAt: "", version: "1.2.0" };
    // A bare toplevel (no manifest, bundle or --release-version) may be an older system.
    expect(await refusal(input(t, { current }))).toBe("version-unverifiable");
    expect(await refusal(input(t, { release: { commit: "abc" }, current }))).toBe("version-unverifiable");
    expect(await refusal(input(t, { release: { version: "" }, current }))).toBe("version-unverifiable");
    expect(await refusal(input(t, { current, allowUnchecked: { version: true } }))).toBeUndefined();
    expect(await refusal(input(t, { current, allowDowngrade: true }))).toBeUndefined();
    expect(await refusal(input(t, { release: { version: "1.2.0" }, current }))).toBeUndefined();
    // Nothing to protect: no running release, or a running release oscd recorded without a version.
    expect(await refusal(input(t))).toBeUndefined();
    expect(await refusal(input(t, { current: { ...current, version: undefined } }))).toBeUndefined();
    // The running system itself again (--force) is the release it was.
    expect(await refusal(input(t, { current: { ...current, toplevel: t } }))).toBeUndefined();
  });

  it("refuses a channel sequence not newer than the last one applied", async () => {
    const t = await toplevel({ hostname: "web1" });
    expect(await refusal(input(t, { release: { channel: "main", sequence: 7 }, lastSequence: 7 }))).toBe("manifest-replay");
    expect(await refusal(input(t, { release: { channel: "main", sequence: 6 }, lastSequence: 7 }))).toBe("manifest-replay");
    expect(await refusal(input(t, { release: { sequence: 9 } }))).toBe("manifest-replay");
    expect(await refusal(input(t, { release: { channel: "main", sequence: 8 }, lastSequence: 7 }))).toBeUndefined();
    expect(await refusal(input(t, { release: { channel: "main", sequence: 1 } }))).toBeUndefined();
  });
});
