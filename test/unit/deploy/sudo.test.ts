import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../../src/core/exec.js";
import { elevated } from "../../../src/deploy/sudo.js";

/**
 * The sudo password's way to a host (issue 21): sent only where sudo asks for it, and framed
 * so that a password line sudo did not read is dropped in front of the command, never handed
 * to it (where it became the first line of a key file or of a deployment's request).
 */
let dir: string;
const PASSWORD = "Tr0ub4dor-&3 x";

/** A stand-in for sudo: skips its options up to `--`, reads the password line only when told (SUDO_ASKS=1). */
const FAKE_SUDO = `#!/bin/sh
while [ "$1" != -- ]; do shift; done; shift
if [ "\${SUDO_ASKS:-0}" = 1 ]; then IFS= read -r pw; fi
exec "$@"
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-unit-sudo-"));
  await writeFile(join(dir, "sudo"), FAKE_SUDO);
  await chmod(join(dir, "sudo"), 0o755);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Runs the remote command line as ssh's remote shell would, with the fake sudo first on PATH. */
const remote = (call: { remote: string; input?: string }, asks: boolean) =>
  run("sh", ["-c", call.remote], { input: call.input ?? "", timeoutMs: 10_000, env: { PATH: `${dir}:${process.env.PATH ?? "/usr/bin:/bin"}`, SUDO_ASKS: asks ? "1" : "0" } });

describe("elevated commands", () => {
  it("root runs the command as is; sudo without a password is sudo -n and the input carries no password", () => {
    expect(elevated({ kind: "root" }, ["cat"], "x")).toEqual({ remote: "cat", input: "x" });
    const n = elevated({ kind: "sudo" }, ["cat"], "payload\n");
    expect(n.remote).toBe("sudo -n -- cat");
    expect(n.input).toBe("payload\n");
  });

  it("with a password: the command gets exactly its input, whether sudo read the password or not", async () => {
    for (const asks of [true, false]) {
      const out = join(dir, `out-${asks}`);
      const call = elevated({ kind: "sudo", password: PASSWORD }, ["sh", "-c", 'cat > "$0"', out], "first line\nsecond\n");
      expect(call.remote).not.toContain(PASSWORD);
      expect(call.input?.startsWith(`${PASSWORD}\n`)).toBe(true);
      const r = await remote(call, asks);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(await readFile(out, "utf8"), `sudo ${asks ? "asked" : "did not ask"}`).toBe("first line\nsecond\n");
    }
  });

  it("each call has its own frame marker, and input that is not framed as sent is refused before the command runs", async () => {
    const a = elevated({ kind: "sudo", password: PASSWORD }, ["true"]);
    const b = elevated({ kind: "sudo", password: PASSWORD }, ["true"]);
    expect(a.remote).not.toBe(b.remote);
    const out = join(dir, "never");
    const call = elevated({ kind: "sudo", password: PASSWORD }, ["sh", "-c", 'cat > "$0"', out], "payload\n");
    // Two lines before the marker (sudo read nothing and something else came first): refused.
    const r = await remote({ remote: call.remote, input: `extra\n${call.input ?? ""}` }, false);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/not framed as expected/);
    expect(r.stderr).not.toContain(PASSWORD);
    expect(existsSync(out)).toBe(false);
  });
});
