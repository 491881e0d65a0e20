import { readFile, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployFleet, oscdDeploy, tempDir, uniqueMarker, type DeployFleet } from "../harness/index.js";
import { SYMLINK_RACER } from "../harness/symlink-racer.js";

/**
 * Key uploads where the key's owner (a service user) can write the destination's directory,
 * the common case of a key delivered into a service's state directory. The upload runs as
 * root; the owner plants symbolic links and races it (the attacks of issue 21). A stand-in
 * for /etc/shadow and a root-only directory must come out untouched.
 */
let f: DeployFleet;
let state: string;
let keys: string;
let baseToml: string;
const STANDIN = "/etc/shadow-standin";
const STANDIN_TEXT = "root:$6$not-for-the-service-user:19000:0:99999:7:::\n";
const SVC = "/etc/svc/app";


beforeAll(async () => {
  state = await tempDir("e2e-deploy-keys-state");
  keys = await tempDir("e2e-deploy-keys");
  f = await deployFleet(["k1"]);
  const h = f.hosts[0]!;
  await h.sh(["useradd", "-M", "-r", "-s", "/usr/sbin/nologin", "app"]);
  await h.sh(["sh", "-c", `mkdir -p ${SVC} /etc/rootonly && chown app:app ${SVC} && chmod 0755 ${SVC} && chmod 0700 /etc/rootonly`]);
  await writeFile(h.path(STANDIN), STANDIN_TEXT, { mode: 0o640 });
  await writeFile(h.path("/etc/oscd-attack.py"), SYMLINK_RACER);
  baseToml = await readFile(`${f.fleet.dir}/oscd.toml`, "utf8");
}, 600_000);

afterAll(async () => {
  await f?.destroy();
});

interface Summary {
  exitCode: number;
  hosts: { host: string; result: string; error?: { code: string; message: string } }[];
}
const summaryOf = (stdout: string) => JSON.parse(stdout.trim().split("\n").pop() ?? "") as Summary;

/** The fleet file with these keys for k1 (TOML tables under [hosts.k1.keys]). */
async function withKeys(keysToml: string): Promise<void> {
  await f.fleet.commitFile("oscd.toml", `${baseToml}\n${keysToml}`, "k1: keys");
}

async function secret(name: string): Promise<string> {
  const text = `${name}-${uniqueMarker()}`;
  await writeFile(`${keys}/${name}`, text, { mode: 0o600 });
  return text;
}

/** What must never change: the stand-in for /etc/shadow and the root-only directory. */
async function untouched(): Promise<void> {
  const h = f.hosts[0]!;
  expect((await h.sh(["stat", "-c", "%U %G %a", STANDIN])).stdout.trim()).toBe("root root 640");
  expect(await readFile(h.path(STANDIN), "utf8")).toBe(STANDIN_TEXT);
  expect((await h.sh(["ls", "-A", "/etc/rootonly"])).stdout.trim()).toBe("");
  expect((await h.sh(["stat", "-c", "%U %a", "/etc/rootonly"])).stdout.trim()).toBe("root 700");
}

describe("key uploads into a directory the key's owner can write", () => {
  it("a destination the owner symlinked to a root-only directory: the key replaces the link, before and after activation, and nothing lands in that directory", async () => {
    const h = f.hosts[0]!;
    await h.sh(["runuser", "-u", "app", "--", "ln", "-s", "/etc/rootonly", `${SVC}/early`]);
    await h.sh(["runuser", "-u", "app", "--", "ln", "-s", "/etc/rootonly", `${SVC}/late`]);
    const early = await secret("early");
    const late = await secret("late");
    await withKeys(
      `[hosts.k1.keys.early]\nfile = "${keys}/early"\ndestination = "${SVC}/early"\nowner = "app"\ngroup = "app"\n\n` +
        `[hosts.k1.keys.late]\nfile = "${keys}/late"\ndestination = "${SVC}/late"\nowner = "app"\ngroup = "app"\nupload = "after"\n`,
    );
    await f.fleet.release("1.1.0");
    const r = await oscdDeploy(f.fleet, ["--json"], { stateDir: state });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    await untouched();
    for (const [name, text] of [["early", early], ["late", late]] as const) {
      expect((await h.sh(["stat", "-c", "%F %U %G %a", `${SVC}/${name}`])).stdout.trim()).toBe("regular file app app 400");
      expect(await readFile(h.path(`${SVC}/${name}`), "utf8")).toBe(text);
    }
    expect(await h.currentSystem()).toMatch(/-1\.1\.0$/);
  });

  it("a directory on the way that the owner symlinked elsewhere is refused (key-destination-unsafe); nothing is written there", async () => {
    const h = f.hosts[0]!;
    await h.sh(["runuser", "-u", "app", "--", "ln", "-s", "/etc/rootonly", `${SVC}/sub`]);
    await secret("sub");
    await withKeys(`[hosts.k1.keys.sub]\nfile = "${keys}/sub"\ndestination = "${SVC}/sub/token"\nowner = "app"\ngroup = "app"\n`);
    const r = await oscdDeploy(f.fleet, ["--keys-only", "--json"], { stateDir: state });
    expect(r.exitCode).toBe(1);
    const s = summaryOf(r.stdout);
    expect(s.hosts[0]).toMatchObject({ result: "failed", error: { code: "key-destination-unsafe", message: expect.stringContaining(`${SVC}/sub`) } });
    await untouched();
  });

  it("the owner racing the upload (its temporary file swapped for a symlink to a stand-in for /etc/shadow) never reaches the stand-in", async () => {
    const h = f.hosts[0]!;
    await h.sh(["rm", "-f", `${SVC}/sub`]);
    await withKeys(`[hosts.k1.keys.token]\nfile = "${keys}/token"\ndestination = "${SVC}/token"\nowner = "app"\ngroup = "app"\nmode = "0400"\n`);
    let swaps = 0;
    for (let round = 0; round < 3; round++) {
      await secret("token");
      await h.sh(["rm", "-f", "/etc/oscd-attack-stop"]);
      const attack = h.exec(["runuser", "-u", "app", "--", "python3", "/etc/oscd-attack.py", SVC, STANDIN, "/etc/oscd-attack-stop"], { timeoutMs: 400_000 });
      let r;
      try {
        r = await oscdDeploy(f.fleet, ["--keys-only", "--json"], { stateDir: state });
      } finally {
        await h.sh(["touch", "/etc/oscd-attack-stop"]);
      }
      const a = await attack;
      swaps += Number(/swaps=(\d+)/.exec(a.stdout)?.[1] ?? 0);
      await untouched();
      // Either the key arrived whole, or the upload saw its file replaced and said so.
      const s = summaryOf(r.stdout);
      if (s.hosts[0]?.result !== "done") expect(s.hosts[0]?.error?.code, r.stdout).toBe("key-destination-unsafe");
    }
    // The attack really ran against the uploads (a race nobody raced proves nothing).
    expect(swaps).toBeGreaterThan(0);
    // Once the owner stops, the key arrives as it should.
    const text = await secret("token");
    const ok = await oscdDeploy(f.fleet, ["--keys-only", "--json"], { stateDir: state });
    expect(ok.exitCode, ok.stdout).toBe(0);
    expect((await h.sh(["stat", "-c", "%F %U %G %a", `${SVC}/token`])).stdout.trim()).toBe("regular file app app 400");
    expect(await readFile(h.path(`${SVC}/token`), "utf8")).toBe(text);
  });

  it("a host without oscd (the shell upload, which cannot pin a directory) refuses a directory others can write and still writes a root-only one", async () => {
    await secret("plain");
    await secret("svc");
    await withKeys(
      `[hosts.k1.keys.plain]\nfile = "${keys}/plain"\n\n` + `[hosts.k1.keys.svc]\nfile = "${keys}/svc"\ndestination = "${SVC}/bare-token"\nowner = "app"\ngroup = "app"\n`,
    );
    const r = await oscdDeploy(f.fleet, ["--keys-only", "--json", "--remote-oscd", "/nonexistent/oscd"], { stateDir: state });
    expect(r.exitCode).toBe(1);
    expect(summaryOf(r.stdout).hosts[0]).toMatchObject({ result: "failed", error: { code: "key-destination-unsafe", message: expect.stringContaining(SVC) } });
    const h = f.hosts[0]!;
    expect((await h.sh(["stat", "-c", "%U %G %a", "/run/keys/plain"])).stdout.trim()).toBe("root root 400");
    expect((await h.exec(["test", "-e", `${SVC}/bare-token`])).exitCode).not.toBe(0);
    await untouched();
  });
});
