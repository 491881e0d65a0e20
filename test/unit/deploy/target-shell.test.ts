import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../../src/core/exec.js";
import { newDeploymentId } from "../../../src/deploy/index.js";
import { parseTargetRequest } from "../../../src/deploy/target/index.js";
import { CONFIRM_SCRIPT, START_SCRIPT } from "../../../src/deploy/target-shell.js";

let dir: string;
let base: string;
let fake: string;

/**
 * A stand-in for the host's oscd: `deploy-target run ID` writes the statuses a runner writes
 * (one JSON line each, renamed into place) and waits for the confirmation file;
 * `deploy-target confirm` only records that Node was asked.
 */
const FAKE_OSCD = `#!/bin/sh
d="$BASE/$3"
if [ "$2" = confirm ]; then echo "node-confirm $3 $4" >> "$BASE/node-calls"; exit 3; fi
if [ -n "\${BROKEN:-}" ]; then echo "cannot load" >&2; exit 1; fi
st=$(cut -d' ' -f22 /proc/$$/stat)
put() { printf '{"id":"%s","state":"%s","pid":%s,"startTime":"%s","detail":"%s"}\\n' "$3" "$1" $$ "$st" "$2" > "$d/.s"; mv "$d/.s" "$d/status.json"; }
put activating 'a detail naming \\"state\\":\\"committed\\" is text, not a state'
sleep 0.2
put awaiting-confirm waiting
i=0; while [ ! -e "$d/confirmed" ] && [ $i -lt \${WAIT_STEPS:-100} ]; do sleep 0.05; i=$((i+1)); done
if [ -e "$d/confirmed" ]; then put committed done; else put rolled-back timeout; fi
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-unit-shell-"));
  base = join(dir, "var/lib/oscd/deploy");
  fake = join(dir, "fake-oscd");
  await writeFile(fake, FAKE_OSCD);
  await chmod(fake, 0o755);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const sh = (script: string, id: string, input?: string, env: Record<string, string> = {}) =>
  run("sh", ["-c", script, "oscd-test", base, id, fake], { input, timeoutMs: 20_000, env: { BASE: base, ...env } });
const states = (out: string) => out.trim().split("\n").filter((l) => l.includes('"state"')).map((l) => (JSON.parse(l) as { state: string }).state);

describe("the start script (no Node start on the host but the runner)", () => {
  it("writes the request and the started status privately, detaches the runner, prints the id and follows until it awaits its confirmation", async () => {
    const id = newDeploymentId();
    const r = await sh(START_SCRIPT, id, '{"request":1}\n');
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe(JSON.stringify({ id }));
    // A detail that quotes a state's text is not that state: the follow stops only at the real one.
    expect(states(r.stdout)).toEqual(["started", "activating", "awaiting-confirm"]);
    expect(await readFile(join(base, id, "request.json"), "utf8")).toBe('{"request":1}\n');
    expect((await stat(join(base, id))).mode & 0o777).toBe(0o700);
    expect((await stat(join(base, id, "request.json"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(base, id, "status.json"))).mode & 0o777).toBe(0o600);
  });

  it("reports a runner that ends before its first status at once, as runner-not-started, in the status file too", async () => {
    const id = newDeploymentId();
    const r = await sh(START_SCRIPT, id, "{}\n", { BROKEN: "1" });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(states(r.stdout)).toEqual(["started", "failed"]);
    const last = JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as { error: { code: string; message: string } };
    expect(last.error.code).toBe("runner-not-started");
    expect(JSON.parse(await readFile(join(base, id, "status.json"), "utf8"))).toEqual(last);
    expect(await readFile(join(base, id, "log"), "utf8")).toContain("cannot load");
  });

  it("never reuses an existing deployment's directory: the second start fails and leaves the first untouched", async () => {
    const id = newDeploymentId();
    await mkdir(join(base, id), { recursive: true });
    await writeFile(join(base, id, "request.json"), "first");
    const r = await sh(START_SCRIPT, id, '{"request":2}\n');
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).not.toContain(JSON.stringify({ id }));
    expect(await readFile(join(base, id, "request.json"), "utf8")).toBe("first");
    expect(existsSync(join(base, id, "status.json"))).toBe(false);
  });
});

describe("the confirm script (over a new connection, no Node start on the common path)", () => {
  it("confirms a deployment that awaits it while its runner lives, then follows it to the end", async () => {
    const id = newDeploymentId();
    expect((await sh(START_SCRIPT, id, "{}\n")).exitCode).toBe(0);
    const r = await sh(CONFIRM_SCRIPT, id);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(states(r.stdout)).toEqual(["awaiting-confirm", "committed"]);
    expect(existsSync(join(base, "node-calls"))).toBe(false);
  });

  it("hands an ended deployment and one whose runner is gone to oscd's own confirm, and confirms neither itself", async () => {
    const ended = newDeploymentId();
    expect((await sh(START_SCRIPT, ended, "{}\n", { WAIT_STEPS: "1" })).exitCode).toBe(0);
    for (let i = 0; i < 100 && !(await readFile(join(base, ended, "status.json"), "utf8")).includes("rolled-back"); i++) await new Promise((r) => setTimeout(r, 50));
    const late = await sh(CONFIRM_SCRIPT, ended);
    expect(late.exitCode).toBe(3);
    expect(existsSync(join(base, ended, "confirmed"))).toBe(false);

    // Awaiting, but the recorded runner is not alive (a pid reused after a reboot has another start time).
    const gone = newDeploymentId();
    await mkdir(join(base, gone), { recursive: true });
    await writeFile(join(base, gone, "status.json"), JSON.stringify({ id: gone, state: "awaiting-confirm", pid: process.pid, startTime: "1", updatedAt: "x" }) + "\n");
    const r = await sh(CONFIRM_SCRIPT, gone);
    expect(r.exitCode).toBe(3);
    expect(existsSync(join(base, gone, "confirmed"))).toBe(false);
    expect((await readFile(join(base, "node-calls"), "utf8")).trim().split("\n")).toEqual([`node-confirm ${ended} --follow`, `node-confirm ${gone} --follow`]);
  });
});

describe("the runner's request", () => {
  const good = (id: string) => ({ id, toplevel: "/nix/store/00000000000000000000000000000000-nixos-system-a", mode: "switch", host: "a", release: { version: "1.2.0" }, confirmTimeoutMs: 30_000 });

  it("is taken as the deployer sends it", () => {
    const id = newDeploymentId();
    expect(parseTargetRequest(id, good(id))).toMatchObject({ toplevel: good(id).toplevel, confirmTimeoutMs: 30_000 });
  });

  it("is refused when forged: not a store path, an unknown field, another deployment's id, a bad mode or timeout", () => {
    const id = newDeploymentId();
    const forged: unknown[] = [
      { ...good(id), toplevel: "/tmp/evil" },
      { ...good(id), toplevel: "/nix/store/../../etc" },
      { ...good(id), extra: true },
      { ...good(id), id: newDeploymentId(new Date(0)) },
      { ...good(id), mode: "reboot" },
      { ...good(id), confirmTimeoutMs: -1 },
      { ...good(id), release: { version: "1.0\n2" } },
      { ...good(id), host: "-oProxyCommand=x" },
      { ...good(id), host: "__proto__" },
      "not an object",
    ];
    for (const f of forged) expect(() => parseTargetRequest(id, f), JSON.stringify(f)).toThrow(expect.objectContaining({ code: "bad-deploy-request", exitCode: 3 }));
  });
});
