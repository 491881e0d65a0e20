import { createServer, type IncomingMessage, type Server } from "node:http";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GIT_ENV, must, type FleetRepo } from "../harness/index.js";
import { inputFleet, PkgsRepo } from "../harness/input-fleet.js";
import { json, oscd } from "../integration/builder/helpers.js";
import type { UpdateReport } from "../../src/update/index.js";

/**
 * oscd update on fleets whose hosts take a package set from a second local git repository
 * (a flake input, or classic: pins.json): a new commit there is picked up, built, checked and
 * merged; one that breaks a host's build or a check is reported by name and not merged.
 */
const rootsDir = "/nix/var/nix/gcroots/oscd-tests-update";
let state: string;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  state = await mkdtemp(join(tmpdir(), "oscd-update-"));
});
afterAll(async () => {
  for (const c of cleanup) await c();
  await rm(state, { recursive: true, force: true });
  await rm(rootsDir, { recursive: true, force: true });
});

const pinFile = (layout: string) => (layout === "flake" ? "flake.lock" : "pins.json");

describe.each(["flake", "classic"] as const)("%s layout", (layout) => {
  let pkgs: PkgsRepo;
  let fleet: FleetRepo;
  const run = (args: string[], env?: Record<string, string>) => oscd(["update", "--repo", fleet.dir, "--state-dir", join(state, layout), "--roots-dir", rootsDir, ...args], { env });
  const pinnedRev = async (ref = "main") => {
    const text = await fleet.git(["show", `${ref}:${pinFile(layout)}`]);
    const doc = JSON.parse(text) as { nodes?: Record<string, { locked?: { rev?: string } }>; pkgs?: { rev: string } };
    return layout === "flake" ? doc.nodes?.pkgs?.locked?.rev : doc.pkgs?.rev;
  };

  beforeAll(async () => {
    pkgs = await PkgsRepo.create({ nginxVersion: "1.24.0" });
    fleet = await inputFleet(layout, pkgs);
    cleanup.push(() => fleet.destroy(), () => pkgs.destroy());
  });

  it("refuses an input name the fleet does not pin, and does nothing when every input is current", async () => {
    const main = await fleet.head("main");
    const bad = await run(["--input", "nope", "--merge"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("error[update-unknown-input]");
    expect(bad.stderr).toContain("inputs are: pkgs");
    const same = await run(["--merge", "-q"]);
    expect(same.exitCode, same.stderr).toBe(0);
    expect(same.stdout).toContain("every input of main is current");
    expect(await fleet.head("main")).toBe(main);
  });

  it("picks up a new commit of the input: builds every host, checks, merges, and the message lists old and new revisions", async () => {
    const old = await pkgs.head();
    const next = await pkgs.commit({ nginxVersion: "1.25.0" });
    const base = await fleet.head("main");
    const r = await run(["--merge", "--json"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = json<UpdateReport>(r);
    expect(report.changes).toEqual([{ name: "pkgs", from: old, to: next }]);
    expect(report.hosts.map((h) => h.status).every((s) => s === "built" || s === "present")).toBe(true);
    expect(report.hosts.map((h) => h.name).sort()).toEqual(["db1", "web1", "web2"]);
    if (layout === "flake") expect(report.checks).toEqual([{ name: "flake:smoke", ok: true }]);
    expect(report.merged).toBe(true);
    // main was fast-forwarded (the checkout too) to the update commit on oscd/update.
    expect(await fleet.head("main")).toBe(report.commit);
    expect(await fleet.head("oscd/update")).toBe(report.commit);
    expect(await fleet.git(["rev-parse", `${report.commit}^`])).toBe(base);
    expect(await fleet.git(["status", "--porcelain"])).toBe("");
    expect(await pinnedRev()).toBe(next);
    const message = await fleet.git(["log", "-1", "--format=%B", "main"]);
    expect(message).toContain(`- pkgs: ${old} → ${next}`);
    expect(await fleet.git(["diff", "--name-only", base, "main"])).toBe(pinFile(layout));
  });

  it("an input commit that breaks one host is built and reported by host, and not merged", async () => {
    const main = await fleet.head("main");
    await pkgs.commit({ nginxVersion: "1.25.1", broken: ["db1"] }, "pkgs: breaks db1");
    const r = await run(["--merge"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("error[update-failed]");
    expect(r.stderr).toMatch(/host db1 failed to build/);
    expect(r.stderr).not.toMatch(/host web1 failed/);
    expect(r.stdout).toMatch(/host web1: (built|present)/);
    expect(await fleet.head("main")).toBe(main);
    // The failed update stays on its branch for inspection.
    expect(await fleet.head("oscd/update")).not.toBe(main);
    expect(await pinnedRev("oscd/update")).toBe(await pkgs.head());
  });

  it("a failing check (flake check, or a command from oscd.toml) is named and nothing is merged", async () => {
    await pkgs.commit({ nginxVersion: "1.25.2", checkOk: layout !== "flake" }, "pkgs: fixes db1");
    if (layout === "classic") {
      const toml = await readFile(join(fleet.dir, "oscd.toml"), "utf8");
      await fleet.commitFile("oscd.toml", `${toml}\n[update]\nchecks = [["sh", "-c", "test -n \\"$GITHUB_TOKEN\\" && exit 9; test -f pins.json || exit 3; echo smoke failed >&2; exit 4"]]\n`, "add a check");
    }
    const main = await fleet.head("main");
    const r = await run(["--merge"], { GITHUB_TOKEN: "must-not-reach-checks" });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("error[update-failed]");
    if (layout === "flake") expect(r.stderr).toMatch(/check flake:smoke failed/);
    else expect(r.stderr).toMatch(/check command:sh -c .* failed: exited 4: smoke failed/);
    expect(r.stderr).not.toMatch(/host \w+ failed/);
    expect(await fleet.head("main")).toBe(main);
  });

  it("a pin file edited by hand into garbage is refused before anything is built or committed", async () => {
    const good = await fleet.head("main");
    const update = await fleet.head("oscd/update");
    await fleet.commitFile(pinFile(layout), layout === "flake" ? '{"version": 7, "root": "root", "nodes": {' : '{"pkgs": {"url": "--upload-pack=evil", "rev": "x"}}\n', "garbage");
    const r = await run(["--merge"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("error[update-pins-invalid]");
    expect(await fleet.head("oscd/update")).toBe(update);
    await fleet.git(["reset", "-q", "--hard", good]);
  });
});

describe("GitHub mode", () => {
  let pkgs: PkgsRepo;
  let fleet: FleetRepo;
  let bare: string;
  let server: Server;
  let api: string;
  const requests: { method: string; url: string; auth?: string; body: unknown }[] = [];
  const token = "ghs_secret_token_for_tests_0123456789";

  const body = async (req: IncomingMessage) => {
    let text = "";
    for await (const chunk of req) text += String(chunk);
    return text ? (JSON.parse(text) as unknown) : undefined;
  };

  beforeAll(async () => {
    pkgs = await PkgsRepo.create({ nginxVersion: "1.24.0" });
    fleet = await inputFleet("flake", pkgs);
    bare = await mkdtemp(join(tmpdir(), "oscd-update-remote-"));
    await must("git", ["clone", "-q", "--bare", fleet.dir, bare], { env: GIT_ENV });
    await fleet.git(["remote", "add", "origin", bare]);
    let open = false;
    server = createServer((req, res) => {
      void (async () => {
        requests.push({ method: req.method ?? "", url: req.url ?? "", auth: req.headers.authorization, body: await body(req) });
        res.setHeader("content-type", "application/json");
        if (req.method === "GET" && req.url?.startsWith("/repos/acme/fleet/pulls?")) return res.end(JSON.stringify(open ? [{ number: 7, html_url: "https://github.invalid/acme/fleet/pull/7" }] : []));
        if (req.method === "POST" && req.url === "/repos/acme/fleet/pulls") {
          open = true;
          res.statusCode = 201;
          return res.end(JSON.stringify({ number: 7, html_url: "https://github.invalid/acme/fleet/pull/7" }));
        }
        if (req.method === "PATCH" && req.url === "/repos/acme/fleet/pulls/7") return res.end(JSON.stringify({ number: 7, html_url: "https://github.invalid/acme/fleet/pull/7" }));
        if (req.method === "POST" && req.url === "/repos/acme/fleet/issues/7/labels") return res.end("[]");
        res.statusCode = 404;
        res.end(JSON.stringify({ message: "Not Found" }));
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    cleanup.push(
      () => fleet.destroy(),
      () => pkgs.destroy(),
      () => rm(bare, { recursive: true, force: true }),
      () => new Promise<void>((resolve) => server.close(() => resolve())),
    );
  });

  const gh = (env: Record<string, string>) =>
    oscd(["update", "--github", "--release", "patch", "--repo", fleet.dir, "--state-dir", join(state, "github"), "--roots-dir", rootsDir], { env: { GITHUB_API_URL: api, GITHUB_REPOSITORY: "acme/fleet", ...env } });

  it("pushes the update branch and opens a labelled pull request; the token is sent only as a header", async () => {
    const noToken = await gh({ GITHUB_TOKEN: "", OSCD_GITHUB_TOKEN: "" });
    expect(noToken.exitCode).toBe(2);
    expect(noToken.stderr).toContain("error[update-github-no-token]");
    expect(requests).toEqual([]);

    await pkgs.commit({ nginxVersion: "1.25.0" });
    const main = await fleet.head("main");
    const r = await gh({ GITHUB_TOKEN: token });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("pull request: #7 https://github.invalid/acme/fleet/pull/7");
    expect(`${r.stdout}${r.stderr}`).not.toContain(token);
    const pr = requests.find((q) => q.method === "POST" && q.url === "/repos/acme/fleet/pulls");
    expect(pr?.body).toMatchObject({ head: "oscd/update", base: "main", title: "Update pkgs" });
    expect(requests.find((q) => q.url === "/repos/acme/fleet/issues/7/labels")?.body).toEqual({ labels: ["release:patch"] });
    expect(requests.every((q) => q.auth === `Bearer ${token}`)).toBe(true);
    const pushed = (await must("git", ["-C", bare, "rev-parse", "refs/heads/oscd/update"])).stdout.trim();
    expect(pushed).toBe(await fleet.head("oscd/update"));
    // Nothing merged: the pull request is the way in.
    expect(await fleet.head("main")).toBe(main);

    // The next scheduled run updates the open pull request instead of opening another.
    await pkgs.commit({ nginxVersion: "1.25.1" });
    requests.length = 0;
    const again = await gh({ GITHUB_TOKEN: token });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(requests.map((q) => q.method)).toEqual(["GET", "PATCH", "POST"]);
    expect(again.stdout).toContain("(updated)");
  });
});
