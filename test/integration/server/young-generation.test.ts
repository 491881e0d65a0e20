import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatPublicKey, publicKeyOf } from "../../../src/nix/index.js";
import { YOUNG_GENERATION_FLOOR } from "../../../src/server/index.js";
import { FLEET_KEY } from "../../harness/control-server.js";
import { ensureBuilt, OSCD_BIN } from "../../harness/oscd.js";
import { freePort } from "../../harness/postgres.js";

/**
 * `oscd server` holds its young generation at a floor (src/server/young-generation.ts): it
 * starts itself again with the V8 flag, in the same process, before it listens.
 */
const dir = mkdtempSync(join(tmpdir(), "oscd-young-gen-"));

beforeAll(async () => {
  await ensureBuilt();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the built CLI's server with `nodeFlags`; its pid's command line once it listens, and its /healthz. */
async function serve(nodeFlags: string[], name: string): Promise<{ cmdline: string[]; health: number; exit: number | null }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeFlags, OSCD_BIN, "server", "--db", `sqlite:${join(dir, `${name}.db`)}`, "--listen", `127.0.0.1:${port}`, "--trusted-key", formatPublicKey(publicKeyOf(FLEET_KEY))], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let err = "";
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
        const m = /listening on (\S+)/.exec(err);
        if (m) resolve(m[1] as string);
      });
      child.once("exit", (c) => reject(new Error(`server exited ${c}: ${err}`)));
    });
    // The pid the test started: the same process, now running with the flag.
    const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    const health = (await fetch(`${url}/healthz`)).status;
    child.kill("SIGTERM");
    return { cmdline, health, exit: await exited };
  } finally {
    child.kill("SIGKILL");
  }
}

describe("oscd server's young generation", () => {
  it("starts itself again with the floor, keeping its pid, and serves", async () => {
    expect(typeof (process as { execve?: unknown }).execve, "this Node has no process.execve (22.15+, 23.11+): the floor cannot be set").toBe("function");
    const r = await serve([], "plain");
    expect(r.cmdline[0]).toBe(process.execPath);
    expect(r.cmdline.slice(1, 3)).toEqual([YOUNG_GENERATION_FLOOR, OSCD_BIN]);
    expect(r.cmdline.filter((a) => a.startsWith("--min-semi-space-size"))).toHaveLength(1);
    expect(r.cmdline).toContain("server");
    expect(r.health).toBe(200);
    expect(r.exit).toBe(0);
  });

  it("keeps a floor the operator gave", async () => {
    const r = await serve(["--min-semi-space-size=32"], "given");
    expect(r.cmdline.filter((a) => a.startsWith("--min-semi-space-size"))).toEqual(["--min-semi-space-size=32"]);
    expect(r.health).toBe(200);
    expect(r.exit).toBe(0);
  });
});
