import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatPublicKey, publicKeyOf } from "../../../src/nix/index.js";
import { serializeManifest } from "../../../src/manifest/index.js";
import { FLEET_KEY, signedManifest } from "../../harness/control-server.js";
import { ensureBuilt, OSCD_BIN } from "../../harness/oscd.js";
import { freePort } from "../../harness/postgres.js";

/** `oscd server`, `oscd server token …` and `oscd status --server` as users run them (the built CLI). */
const dir = mkdtempSync(join(tmpdir(), "oscd-server-cli-"));
const db = `sqlite:${join(dir, "server.db")}`;
let server: ReturnType<typeof spawn> | undefined;
let url = "";

function oscd(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync("node", [OSCD_BIN, ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  await ensureBuilt();
});
afterAll(() => {
  server?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

describe("oscd server (CLI)", () => {
  it("refuses to start without trusted keys: it could not verify any release", () => {
    const r = oscd(["server", "--db", db, "--listen", "127.0.0.1:0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^oscd: error\[server-no-keys\]: the server has no trusted keys/);
  });

  it("refuses a long-poll hold it could not honour, naming the flag, and starts nothing", () => {
    const key = formatPublicKey(publicKeyOf(FLEET_KEY));
    for (const bad of ["0", "301", "abc", "-5"]) {
      const r = oscd(["server", "--db", `sqlite:${join(dir, "never.db")}`, "--listen", "127.0.0.1:0", "--trusted-key", key, "--long-poll-seconds", bad]);
      expect([bad, r.code]).toEqual([bad, 2]);
      expect(r.stderr).toMatch(/^oscd: error\[bad-long-poll\]: --long-poll-seconds .* is not a whole number of seconds from 1 to 300/);
    }
    expect(existsSync(join(dir, "never.db"))).toBe(false);
  });

  it("token list, revoke and create refuse a database that does not exist, and make none; create --create-db makes it", () => {
    const path = join(dir, "absent", "server.db");
    for (const args of [["list"], ["revoke", "oscd_0123456789abcdef"], ["create", "--role", "viewer"]]) {
      const r = oscd(["server", "token", ...args, "--db", `sqlite:${path}`]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^oscd: error\\[server-db-missing\\]: no server database at ${path}: oscd server token ${args[0]} works on`));
      expect(r.stderr).toMatch(/^hint: .*--create-db/m);
      expect(existsSync(path), args.join(" ")).toBe(false);
    }
    const made = oscd(["server", "token", "create", "--role", "viewer", "--create-db", "--db", `sqlite:${path}`]);
    expect(made.code, made.stderr).toBe(0);
    expect(existsSync(path)).toBe(true);
    expect(oscd(["server", "token", "list", "--db", `sqlite:${path}`]).stdout).toMatch(/viewer/);
  });

  it("--metrics-token-file: refuses a missing file or a short token; with a good one, /metrics needs it", async () => {
    const key = formatPublicKey(publicKeyOf(FLEET_KEY));
    const missing = oscd(["server", "--db", db, "--listen", "127.0.0.1:0", "--trusted-key", key, "--metrics-token-file", join(dir, "nope")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^oscd: error\[server-metrics-token\]: cannot read the metrics token file .*nope: ENOENT/);
    writeFileSync(join(dir, "short"), "abc\n");
    const short = oscd(["server", "--db", db, "--listen", "127.0.0.1:0", "--trusted-key", key, "--metrics-token-file", join(dir, "short")]);
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/^oscd: error\[server-metrics-token\]: .* does not hold one token of 16 or more printable characters/);
    expect(short.stderr).not.toContain("abc");
    const token = "prometheus-0123456789abcdef";
    writeFileSync(join(dir, "metrics-token"), `${token}\n`, { mode: 0o600 });
    const port = await freePort();
    const m = spawn("node", [OSCD_BIN, "server", "--db", db, "--listen", `127.0.0.1:${port}`, "--trusted-key", key, "--metrics-token-file", join(dir, "metrics-token")], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      const at = await new Promise<string>((resolve, reject) => {
        let err = "";
        m.stderr.on("data", (d: Buffer) => {
          err += d.toString();
          const x = /listening on (\S+)/.exec(err);
          if (x) resolve(x[1] as string);
        });
        m.on("exit", (c) => reject(new Error(`server exited ${c}: ${err}`)));
      });
      expect((await fetch(`${at}/metrics`)).status).toBe(401);
      const ok = await fetch(`${at}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/^# HELP oscd_hosts /m);
    } finally {
      m.kill("SIGTERM");
    }
  });

  it("makes tokens, serves, and shows the fleet with oscd status --server; a revoked token is refused", async () => {
    const admin = JSON.parse(oscd(["server", "token", "create", "--admin", "--create-db", "--db", db, "--json"]).stdout) as { id: string; token: string };
    expect(admin.token).toMatch(/^oscd_[0-9a-f]{16}_/);
    const host = oscd(["server", "token", "create", "--host", "web1", "--tag", "web", "--channel", "main", "--db", db]);
    expect(host.code).toBe(0);
    const hostToken = host.stdout.trim();
    const list = oscd(["server", "token", "list", "--db", db]);
    expect(list.stdout).toMatch(/admin/);
    expect(list.stdout).toMatch(/host\s+web1/);
    expect(list.stdout).not.toContain(admin.token.slice(22));

    const port = await freePort();
    server = spawn("node", [OSCD_BIN, "server", "--db", db, "--listen", `127.0.0.1:${port}`, "--trusted-key", formatPublicKey(publicKeyOf(FLEET_KEY))], { stdio: ["ignore", "pipe", "pipe"] });
    url = await new Promise<string>((resolve, reject) => {
      let err = "";
      server?.stderr?.on("data", (d: Buffer) => {
        err += d.toString();
        const m = /listening on (\S+)/.exec(err);
        if (m) resolve(m[1] as string);
      });
      server?.on("exit", (c) => reject(new Error(`server exited ${c}: ${err}`)));
    });
    const up = await fetch(`${url}/api/v1/releases?immediate=1`, { method: "POST", headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json" }, body: serializeManifest(signedManifest("main", 1, ["web1"])) });
    expect(up.status).toBe(201);
    const rep = await fetch(`${url}/api/v1/reports`, { method: "POST", headers: { authorization: `Bearer ${hostToken}`, "content-type": "application/json" }, body: JSON.stringify({ id: "d1", status: "success", channel: "main", sequence: 1, version: "1.0.1", generation: 3, rebootNeeded: true }) });
    expect(rep.status).toBe(201);

    const json = oscd(["status", "--server", url, "--json"], { OSCD_SERVER_TOKEN: admin.token });
    expect(json.code).toBe(0);
    const fleet = JSON.parse(json.stdout) as { hosts: { host: string; status: string; desired: { sequence: number }; current: { generation: number } }[] };
    expect(fleet.hosts).toMatchObject([{ host: "web1", status: "ok", desired: { sequence: 1 }, current: { generation: 3 } }]);
    const text = oscd(["status", "--server", url], { OSCD_SERVER_TOKEN: admin.token });
    expect(text.stdout.split("\n")[0]).toBe("1 host(s): 1 ok · 0 rolled back · 0 failed · 0 drift · 0 offline");
    expect(text.stdout.split("\n")[1]).toMatch(/^HOST\s+STATUS\s+CAUSE\s+DESIRED\s+CURRENT\s+GEN\s+REBOOT\s+AGENT\s+LAST SEEN$/);
    expect(text.stdout).toMatch(/web1\s+ok\s+-\s+main 1\.0\.1 #1\s+1\.0\.1 #1\s+3\s+needed\s+-\s+\d+s ago/);

    expect(oscd(["status", "--server", url]).stderr).toMatch(/^oscd: error\[server-token\]: no server token/);
    expect(oscd(["status", "--server", url], { OSCD_SERVER_TOKEN: hostToken }).stderr).toMatch(/^oscd: error\[server-refused\]: .* refused: \[forbidden\] /);
    expect(oscd(["server", "token", "revoke", admin.id, "--db", db]).code).toBe(0);
    // The server remembers a valid token; another process's write (this revocation) makes it look again (PRAGMA data_version).
    let code: number | null = 0;
    for (let i = 0; i < 70 && code === 0; i++) {
      code = oscd(["status", "--server", url], { OSCD_SERVER_TOKEN: admin.token }).code;
      if (code === 0) await new Promise((r) => setTimeout(r, 100));
    }
    // Refused (401): exit 3, like any refusal by a guard.
    expect(code).toBe(3);
  });
});
