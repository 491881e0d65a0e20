import { dirname } from "node:path";
import type { Manifest } from "../../src/manifest/index.js";
import { clientKey, oscdOn, OSCD_BIN, type SimHost } from "../../test/harness/index.js";
import type { NetbootClaim } from "./netboot.js";
import { mergePullRequest, publish, releaseFromEvent, startRollout } from "./release.js";
import { heading, hostLine, note, oscd, StepFailed } from "./story.js";
import { Watcher } from "./watch.js";
import { HOSTS, PUSH_HOST, type World } from "./world.js";

/** What the story claims happened, for the facts file (a test checks each against the hosts, the server and git). */
export interface Claims {
  first?: { tag: string; sequence: number; rollout: string; toplevels: Record<string, string> };
  bad?: { tag: string; sequence: number; rollout: string; canary: string; toplevels: Record<string, string> };
  push?: { host: string; ref: string; commit: string; toplevel: string; deployment?: string };
  netboot?: NetbootClaim;
}

const host = (w: World, name: string) => w.hosts.get(name) as SimHost;

function nameRelease(watch: Watcher, m: Manifest, tag: string): Record<string, string> {
  for (const e of Object.values(m.hosts)) watch.names.set(e.toplevel, tag);
  return Object.fromEntries(Object.entries(m.hosts).map(([n, e]) => [n, e.toplevel]));
}

export function introduce(w: World): void {
  heading("A fleet repository, three simulated NixOS hosts, the control server, an agent on each host");
  note(`fleet repository ${w.fleet.dir} (VERSION 1.0.0), pushed to a bare origin ${w.origin}`);
  note(`oscd server at ${w.server.url}: SQLite database and the fleet's binary cache in ${w.server.dir}`);
  for (const n of HOSTS) hostLine(n, `${host(w, n).address}: own /nix store, /run, /boot; oscd agent long-polls the server with its own token${n === PUSH_HOST ? "; sshd for push deploys" : ""}`);
}

/** A labelled pull request becomes a tag, a signed release on the server, and a staged rollout the hosts follow live. */
export async function labelledRelease(w: World, watch: Watcher, claims: Claims): Promise<{ tag: string; manifest: Manifest }> {
  heading("A pull request labelled release:minor is merged; the release is tagged from the label");
  const event = await mergePullRequest(w, { number: 42, title: "web1: nginx status page", label: "release:minor", branch: "web1-status-page" }, () => w.fleet.commitHostChange("web1", "nginx status page", "web1: nginx status page"));
  const { tag } = await releaseFromEvent(w, event);

  heading(`Publish ${tag} to the server and roll it out with the channel's plan: web1 first (canary), then the rest`);
  await watch.mark();
  const { manifest: m, rollout: r } = await publish(w, tag, { rollout: true });
  const toplevels = nameRelease(watch, m, tag);
  if (!r) throw new StepFailed("no rollout was started");
  watch.follow(r.id);
  await watch.until(async () => watch.rolloutState === "done" && (await allOn(w, toplevels)), `every host to run ${tag}`, 150_000);
  claims.first = { tag, sequence: m.sequence, rollout: r.id, toplevels };
  return { tag, manifest: m };
}

async function allOn(w: World, toplevels: Record<string, string>): Promise<boolean> {
  for (const n of HOSTS) if ((await host(w, n).currentSystem()) !== toplevels[n]) return false;
  return true;
}

/** A release whose new system fails db1's health check: the canary rolls back, the rollout halts. */
export async function badRelease(w: World, watch: Watcher, claims: Claims): Promise<void> {
  heading("A release that breaks db1's health check, rolled out with db1 as the canary");
  const event = await mergePullRequest(w, { number: 43, title: "db1: new migration", label: "release:patch", branch: "db1-migration" }, () => w.fleet.setHost({ name: "db1", health: "failing", marker: "bad migration" }, "db1: new migration"));
  const { tag } = await releaseFromEvent(w, event);
  const { manifest: m } = await publish(w, tag);
  const toplevels = nameRelease(watch, m, tag);
  await watch.mark();
  const r = await startRollout(w, m, "canary=db1; rest");
  watch.follow(r.id);
  const before = claims.first?.toplevels.db1;
  await watch.until(async () => watch.rolloutState === "halted" && (await host(w, "db1").currentSystem()) === before, "the canary to roll back and the rollout to halt", 150_000);
  // A rollback that rolled nothing back would be no story: db1 must have run the release.
  if (!(await host(w, "db1").activations()).some((x) => x.endsWith(toplevels.db1 ?? "?"))) throw new StepFailed(`db1 never activated ${tag}: the rollback undid nothing`);
  const fleet = JSON.parse((await oscd(["status", ...w.server.cliArgs, "--json"])).stdout) as { counts: { ok: number; "rolled-back": number }; hosts: { host: string; status: string; reason: string | null }[] };
  const db1 = fleet.hosts.find((h) => h.host === "db1");
  hostLine("server", `oscd status --server: ${fleet.counts.ok} ok, ${fleet.counts["rolled-back"]} rolled back; db1 ${db1?.status}: ${db1?.reason ?? ""}`);
  hostLine("server", `web1 and web2 were never offered ${tag}`);
  claims.bad = { tag, sequence: m.sequence, rollout: r.id, canary: "db1", toplevels };
}

/** A push deploy of a testing branch to one host over SSH; the host rolls back unless a new SSH connection confirms it. */
export async function pushDeploy(w: World, watch: Watcher, claims: Claims): Promise<void> {
  heading(`A push deploy: a testing change to ${PUSH_HOST} over SSH, with magic rollback`);
  const h = host(w, PUSH_HOST);
  const suspended = await oscdOn(h, ["agent", "suspend"]);
  if (suspended.exitCode !== 0) throw new StepFailed(`oscd agent suspend on ${PUSH_HOST} exited ${suspended.exitCode}`, suspended.stdout + suspended.stderr);
  hostLine(PUSH_HOST, "oscd agent suspend: the agent deploys nothing until resumed (it would move the host back to the channel)");
  const base = claims.first?.tag ?? "main";
  await w.fleet.git(["checkout", "-q", "-b", "testing", base]);
  const commit = await w.fleet.commitHostChange(PUSH_HOST, "try a new TLS setup", `${PUSH_HOST}: try a new TLS setup`);
  await w.fleet.git(["checkout", "-q", "main"]);
  note(`branch testing (${commit.slice(0, 8)}), on top of ${base}: ${PUSH_HOST}: try a new TLS setup`);
  // The only new system of this step is the testing one.
  const named = (s: string) => s.replace(/\/nix\/store\/[0-9a-z]{32}-[^\s:,]+/g, (p) => watch.names.get(p) ?? `testing ${commit.slice(0, 8)}`);
  const key = await clientKey();
  const args = ["deploy", "--repo", w.fleet.dir, "--ref", "testing", "--on", PUSH_HOST, "--mode", "test", "--confirm-timeout", "30", "--sign-key", w.keyFile];
  args.push("--ssh-option", `IdentityFile=${key.privateKey}`, "--ssh-option", `UserKnownHostsFile=${key.knownHosts}`, "--remote-oscd", `node ${OSCD_BIN}`);
  args.push("--state-dir", w.stateDir, "--roots-dir", w.rootsDir, "--json");
  note(`oscd deploy --on ${PUSH_HOST} --ref testing --mode test --confirm-timeout 30 --sign-key ${w.keyFile.replace(dirname(w.keyFile) + "/", "")}`);
  const r = await oscd(args, { okExit: [0, 1, 4] });
  let report: { result: string; id?: string; new: { system?: string }; error?: { message: string } } | undefined;
  let last = "";
  for (const line of r.stdout.split("\n").filter(Boolean)) {
    const e = JSON.parse(line) as { type: string; host?: string; step?: string; detail?: string; report?: typeof report };
    const text = e.type === "host" && e.step ? named(`${e.step}${e.detail ? ` ${e.detail}` : ""}`) : "";
    // The host repeats "waiting" while it waits: one line says it.
    if (text && text !== last) hostLine(PUSH_HOST, text);
    if (text) last = text;
    if (e.type === "host-done") report = e.report;
  }
  if (r.exitCode !== 0 || report?.result !== "done") throw new StepFailed(`oscd deploy to ${PUSH_HOST} ended ${report?.result ?? `with exit ${r.exitCode}`}`, r.stdout + r.stderr);
  const now = await h.currentSystem();
  if (now === claims.first?.toplevels[PUSH_HOST]) throw new StepFailed(`oscd deploy said done, but ${PUSH_HOST} still runs ${claims.first?.tag}`, r.stdout);
  hostLine(PUSH_HOST, `confirmed over a new SSH connection: runs ${named(now ?? "")} until its next boot (test mode); unconfirmed, it would have rolled back by itself after 30 s`);
  claims.push = { host: PUSH_HOST, ref: "testing", commit, toplevel: now ?? "", deployment: report.id };
}

export function dashboard(w: World, keep: boolean): void {
  heading("The dashboard");
  note(`${keep ? "open" : "with --keep (the default in a terminal) it stays up: open"} ${w.server.url}/ and sign in with the admin token in ${w.server.adminTokenFile}`);
  note("fleet: counts per status, each host's desired and current release, generation, agent and last report; db1 rolled back, its failing health check first");
  note("releases: the channel and its plan, the first rollout done wave by wave, the second halted at its canary (Resume and Abort ask first)");
  note("audit: who published and rolled out what, through the command line");
  note("host db1: its report history, the deploy, the failed health check, the rollback");
}
