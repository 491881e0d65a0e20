import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/core/exec.js";
import { parseManifest } from "../../src/manifest/index.js";
import { parseArgs } from "../../scripts/demo/options.js";
import { ensureBuilt, REPO_ROOT, waitFor } from "../harness/index.js";

/**
 * `scripts/demo.sh` as a newcomer runs it, but with stdout piped (not a terminal) and --keep,
 * so the fleet is still there when the story ends: every claim is then checked against the
 * facts (the hosts' /run/current-system, profiles and activations, the server's API, the tags
 * on origin), not against what the demo printed. Then Ctrl-C (SIGINT to its process group)
 * must remove every host, namespace, folder and the server.
 */
interface Facts {
  work: string;
  server: { url: string; adminTokenFile: string; dir: string };
  fleet: string;
  origin: string;
  rootsDir: string;
  hosts: Record<string, { root: string; address: string; netns: string }>;
  claims: {
    failed?: string;
    first: { tag: string; sequence: number; rollout: string; toplevels: Record<string, string> };
    bad: { tag: string; sequence: number; rollout: string; canary: string; toplevels: Record<string, string> };
    push: { host: string; ref: string; commit: string; toplevel: string };
    netboot: { host: string; sequence: number; toplevel: string; files: { script: string; kernel: string; initrd: string; refused: string }; refusedStatus: number };
  };
}

const factsFile = join(tmpdir(), `oscd-demo-test-facts-${process.pid}.json`);
let demo: ChildProcess;
let stdout = "";
let stderr = "";
let exit: Promise<number | null>;
let facts: Facts;
let admin: string;

const api = async <T>(path: string): Promise<T> => {
  const res = await fetch(facts.server.url + path, { headers: { authorization: `Bearer ${admin}` } });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
};
const hostPath = (name: string, p: string) => join(facts.hosts[name]!.root, p);
const current = (name: string) => readlink(hostPath(name, "/run/current-system"));
const activations = async (name: string) => (await readFile(hostPath(name, "/run/fake-nixos/activations"), "utf8")).split("\n").filter(Boolean);
const git = async (dir: string, args: string[]) => (await run("git", ["-C", dir, ...args], { timeoutMs: 30_000 })).stdout.trim();
/** The system profile's generations: number → toplevel. */
async function generations(name: string): Promise<Record<number, string>> {
  const dir = hostPath(name, "/nix/var/nix/profiles");
  const out = await run("sh", ["-c", 'for l in "$0"/system-*-link; do printf "%s %s\\n" "$l" "$(readlink "$l")"; done', dir], { timeoutMs: 10_000 });
  return Object.fromEntries(
    out.stdout
      .split("\n")
      .filter((l) => /system-\d+-link /.test(l))
      .map((l) => [Number(/system-(\d+)-link/.exec(l)![1]), l.split(" ")[1]!]),
  );
}

beforeAll(async () => {
  await ensureBuilt();
  await rm(factsFile, { force: true });
  // Its own process group, as a terminal's foreground job: Ctrl-C reaches the whole group.
  demo = spawn("bash", [join(REPO_ROOT, "scripts/demo.sh"), "--keep", "--facts", factsFile], { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, OSCD_DIST_READY: "1" } });
  demo.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  demo.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  exit = new Promise((r) => demo.once("exit", (code) => r(code)));
  await waitFor(async () => existsSync(factsFile) || demo.exitCode !== null, 360_000, "the demo to finish its story", async () => stdout + stderr);
  expect(demo.exitCode, stdout + stderr).toBeNull();
  facts = JSON.parse(await readFile(factsFile, "utf8")) as Facts;
  expect(facts.claims.failed, stderr).toBeUndefined();
  admin = (await readFile(facts.server.adminTokenFile, "utf8")).trim();
}, 400_000);

afterAll(async () => {
  if (demo && demo.exitCode === null) {
    process.kill(-demo.pid!, "SIGINT");
    await exit;
  }
  await rm(factsFile, { force: true });
}, 60_000);

describe("scripts/demo.sh, run to its end without a terminal", () => {
  it("tells the story in order, one heading per step, with no stray log or error lines", () => {
    const headings = stdout.split("\n").filter((l) => l.startsWith("━━ "));
    expect(headings.map((h) => /^━━ (\d+)\./.exec(h)?.[1])).toEqual(["1", "2", "3", "4", "5", "6", "7", "8"]);
    expect(headings[3]).toMatch(/^━━ 4\. Netboot: web1 fetches v1\.1\.0's iPXE script, kernel and initrd/);
    expect(stdout).not.toMatch(/^\{"level"/m);
    expect(stderr).toBe("");
  });

  it("the labelled pull request was tagged from its label and pushed to origin", async () => {
    const { first, bad } = facts.claims;
    expect([first.tag, bad.tag]).toEqual(["v1.1.0", "v1.1.1"]);
    for (const [tag, version, pr] of [
      [first.tag, "1.1.0", "#42"],
      [bad.tag, "1.1.1", "#43"],
    ] as const) {
      expect(await git(facts.origin, ["show", `${tag}:VERSION`])).toBe(version);
      expect(await git(facts.fleet, ["rev-parse", `${tag}^{commit}`])).toBe(await git(facts.origin, ["rev-parse", `${tag}^{commit}`]));
      // The release commit sits right on the merge of the pull request it names.
      expect(await git(facts.origin, ["log", "-1", "--format=%s", `${tag}^`])).toMatch(new RegExp(`^Merge pull request ${pr} `));
    }
  });

  it("the first release reached every host through a staged rollout: canary web1, then the rest", async () => {
    const { first } = facts.claims;
    const r = await api<{ state: string; waves: { name: string; hosts: string[]; state: string }[] }>(`/api/v1/rollouts/${first.rollout}`);
    expect(r.state).toBe("done");
    // Started by the operator through the command line, with the channel's plan from oscd.toml.
    const audit = (await api<{ entries: { action: string; target: string; via: string | null; role: string }[] }>("/api/v1/audit")).entries;
    expect(audit.find((a) => a.action === "rollout.start" && a.target.startsWith(`rollout ${first.rollout}`))).toMatchObject({ via: "cli", role: "operator" });
    expect(r.waves.map((w) => [w.name, w.hosts.sort(), w.state])).toEqual([
      ["canary", ["web1"], "done"],
      ["rest", ["db1", "web2"], "done"],
    ]);
    for (const name of ["web1", "db1"]) {
      expect(await current(name)).toBe(first.toplevels[name]);
      expect(await generations(name)).toEqual({ 1: first.toplevels[name] });
    }
    expect((await generations("web2"))[1]).toBe(first.toplevels.web2);
    // The hosts substituted the closures from the server's own binary cache, over HTTP with their tokens.
    const metrics = await (await fetch(`${facts.server.url}/metrics`)).text();
    expect(Number(/^oscd_http_requests_total\{method="GET",route="\/cache\/\*",status="200"\} (\d+)$/m.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(0);
    const fleet = (await api<{ hosts: { host: string; status: string; current: { sequence: number | null } }[] }>("/api/v1/hosts")).hosts;
    expect(fleet.find((h) => h.host === "web1")).toMatchObject({ status: "ok", current: { sequence: first.sequence } });
  });

  it("web1 fetched its own v1.1.0 iPXE script, kernel and initrd from the server by its token; a forged token got nothing", async () => {
    const { first, netboot } = facts.claims;
    expect(netboot.host).toBe("web1");
    expect(netboot.toplevel).toBe(first.toplevels.web1);
    expect(netboot.sequence).toBe(first.sequence);
    // What web1 got, as it is on web1's disk, against its running system's own store paths.
    const got = (f: string) => readFile(hostPath("web1", f));
    expect((await got(netboot.files.kernel)).equals(await readFile(hostPath("web1", `${first.toplevels.web1}/kernel`)))).toBe(true);
    expect((await got(netboot.files.kernel)).toString()).toMatch(/^fake kernel /);
    // The first release as the server holds it: its netboot entry names web1's system and these files.
    const res = await fetch(`${facts.server.url}/api/v1/releases/main/${first.sequence}`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(200);
    const nb = parseManifest(await res.text()).hosts.web1!.netboot!;
    expect(nb.toplevel).toBe(first.toplevels.web1);
    expect((await got(netboot.files.initrd)).equals(await readFile(join(nb.initrd.path, nb.initrd.file)))).toBe(true);
    expect((await got(netboot.files.initrd)).toString()).toBe("fake netboot ramdisk of web1 version 1.1.0\n");
    const script = (await got(netboot.files.script)).toString();
    expect(script.startsWith("#!ipxe\n")).toBe(true);
    expect(script).toContain(`init=${first.toplevels.web1}/init`);
    for (const other of ["web2", "db1"]) expect(script).not.toContain(first.toplevels[other]!);
    // The forged token's answer: a refusal, no file.
    const refused = (await got(netboot.files.refused)).toString();
    expect(netboot.refusedStatus).toBe(403);
    expect(JSON.parse(refused).error.code).toBe("netboot-bad-token");
    expect(refused).not.toMatch(/fake kernel|web1/);
    // The server's own count of what it answered: the step's three files and one refusal, at least.
    const metrics = await (await fetch(`${facts.server.url}/metrics`)).text();
    const count = (status: string) => Number(new RegExp(`^oscd_http_requests_total\\{method="GET",route="/netboot/token/:token/:part",status="${status}"\\} (\\d+)$`, "m").exec(metrics)?.[1] ?? 0);
    expect(count("200")).toBeGreaterThanOrEqual(3);
    expect(count("403")).toBeGreaterThanOrEqual(1);
  });

  it("the release breaking db1's health check halted at its canary: db1 ran it, failed, rolled back; the others never ran it", async () => {
    const { first, bad } = facts.claims;
    const manifest = parseManifest(await readFile(join(facts.server.dir, "cache", "channels", "main.json"), "utf8"));
    expect(manifest.sequence).toBe(bad.sequence);
    expect(manifest.hosts.db1?.toplevel).toBe(bad.toplevels.db1);
    expect(await readFile(hostPath("db1", `${bad.toplevels.db1}/fake-config`), "utf8")).toMatch(/health=failing/);
    const r = await api<{ state: string; reason: string }>(`/api/v1/rollouts/${bad.rollout}`);
    expect(r.state).toBe("halted");
    expect(r.reason).toMatch(/1 host\(s\) failed \(db1\)/);
    expect((await activations("db1")).some((a) => a.endsWith(bad.toplevels.db1!))).toBe(true);
    expect(await current("db1")).toBe(first.toplevels.db1);
    expect(await readlink(hostPath("db1", "/nix/var/nix/profiles/system")).then((l) => readlink(hostPath("db1", `/nix/var/nix/profiles/${l}`)))).toBe(first.toplevels.db1);
    for (const name of ["web1", "web2"]) expect((await activations(name)).some((a) => a.endsWith(bad.toplevels[name]!))).toBe(false);
    // Rolled back (the host is whole), with its failing check first.
    const db1 = (await api<{ host: { status: string; reason: string } }>("/api/v1/hosts/db1")).host;
    expect(db1.status).toBe("rolled-back");
    expect(db1.reason).toMatch(/^health checks failed after 1 attempt\(s\): command grep -qx ok \/run\/fake-nixos\/health exited 1 \[rolled-back\] \(nixos-system-db1-\S+ rolled back to nixos-system-db1-\S+\)$/);
  });

  it("the push deploy put web2's testing commit on web2 (test mode: the boot default stays the release)", async () => {
    const { first, push } = facts.claims;
    expect(push.host).toBe("web2");
    expect(await git(facts.fleet, ["rev-parse", "testing"])).toBe(push.commit);
    expect(await current("web2")).toBe(push.toplevel);
    expect(push.toplevel).not.toBe(first.toplevels.web2);
    expect(await readFile(hostPath("web2", `${push.toplevel}/fake-config`), "utf8")).toMatch(/marker=try a new TLS setup/);
    const loader = await readFile(hostPath("web2", "/boot/loader/loader.conf"), "utf8");
    const entry = await readFile(hostPath("web2", `/boot/loader/entries/${/^default\s+(\S+)/m.exec(loader)![1]}`), "utf8");
    expect(entry).toContain(first.toplevels.web2);
  });

  it("Ctrl-C ends it and removes every host, namespace, folder and the server", async () => {
    process.kill(-demo.pid!, "SIGINT");
    expect(await exit).toBe(0);
    expect(stdout).toMatch(/cleaning up/);
    for (const h of Object.values(facts.hosts)) expect(existsSync(join(h.root, ".."))).toBe(false);
    const netns = (await run("ip", ["netns", "list"], { timeoutMs: 10_000 })).stdout;
    for (const h of Object.values(facts.hosts)) expect(netns).not.toMatch(new RegExp(`^${h.netns}\\b`, "m"));
    for (const dir of [facts.work, facts.fleet, facts.server.dir, facts.rootsDir]) expect(existsSync(dir), dir).toBe(false);
    await expect(fetch(`${facts.server.url}/healthz`)).rejects.toThrow();
  });
});

describe("the demo's command line", () => {
  it("keeps running in a terminal and ends by itself otherwise, unless told", () => {
    expect(parseArgs([], true).keep).toBe(true);
    expect(parseArgs([], false).keep).toBe(false);
    expect(parseArgs(["--keep"], false).keep).toBe(true);
    expect(parseArgs(["--no-keep"], true).keep).toBe(false);
    expect(parseArgs(["--facts", "/x"], false)).toEqual({ keep: false, facts: "/x" });
    expect(() => parseArgs(["--bogus"], false)).toThrow(/unknown argument "--bogus"/);
  });
});
