import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseManifest, type Manifest } from "../../src/manifest/index.js";
import type { Rollout } from "./server.js";
import { must, note, oscd, StepFailed } from "./story.js";
import type { World } from "./world.js";

/** The repository the demo's pull request events are for (GITHUB_REPOSITORY in CI). */
const REPOSITORY = "demo/fleet";

/**
 * A pull request merged on `origin`: a branch with `change` made, merged with a merge commit
 * into main and pushed, as GitHub's merge button does. Returns the event GitHub would send.
 */
export async function mergePullRequest(w: World, pr: { number: number; title: string; label: string; branch: string }, change: () => Promise<unknown>): Promise<string> {
  await w.fleet.git(["checkout", "-q", "-b", pr.branch, "main"]);
  await change();
  await w.fleet.git(["checkout", "-q", "main"]);
  await w.fleet.git(["merge", "-q", "--no-ff", "-m", `Merge pull request #${pr.number} from ${REPOSITORY.split("/")[0]}/${pr.branch}\n\n${pr.title}`, pr.branch]);
  await w.fleet.git(["push", "-q", "origin", "main"]);
  const merge = await w.fleet.head();
  const repo = { full_name: REPOSITORY, clone_url: `https://github.com/${REPOSITORY}.git` };
  const event = {
    action: "closed",
    number: pr.number,
    pull_request: {
      number: pr.number,
      title: pr.title,
      html_url: `https://github.com/${REPOSITORY}/pull/${pr.number}`,
      merged: true,
      merge_commit_sha: merge,
      labels: [{ name: pr.label }],
      base: { ref: "main", repo },
    },
    repository: repo,
  };
  const file = join(w.work, `pull-request-${pr.number}.json`);
  await writeFile(file, JSON.stringify(event, null, 2));
  note(`pull request #${pr.number} "${pr.title}" labelled ${pr.label}, merged into main as ${merge.slice(0, 8)}`);
  return file;
}

/** `oscd release from-event EVENT --push` in the CI checkout; returns the new tag. */
export async function releaseFromEvent(w: World, eventFile: string): Promise<{ tag: string; commit: string }> {
  const r = await oscd(["release", "from-event", eventFile, "--push", "--repo", w.fleet.dir, "--json"], { env: { GITHUB_REPOSITORY: REPOSITORY } });
  const res = JSON.parse(r.stdout) as { status: string; reason?: string; releases: { tag: string; commit: string }[] };
  const last = res.releases.at(-1);
  if (res.status !== "released" || !last) throw new StepFailed(`oscd release from-event released nothing: ${res.reason ?? res.status}`, r.stdout);
  const onOrigin = (await must("git", ["-C", w.origin, "rev-parse", `${last.tag}^{commit}`])).stdout.trim();
  note(`oscd release from-event → tagged ${res.releases.map((x) => x.tag).join(", ")} at ${last.commit.slice(0, 8)}, pushed to origin (origin's ${last.tag} → ${onOrigin.slice(0, 8)})`);
  return last;
}

/**
 * `oscd publish --netboot --server`: one evaluation and build of every host, closures signed and
 * uploaded to the server's cache, each host's netboot files (kernel, initrd, parameters)
 * recorded in its entry, the signed manifest handed to the server (which verifies it) with the
 * channel's rollout plan from oscd.toml. `--rollout` starts the plan's rollout at once; without
 * it the release waits, and publish says how to start it.
 */
export async function publish(w: World, tag: string, opts: { rollout?: boolean } = {}): Promise<{ manifest: Manifest; rollout?: Rollout; waiting?: string }> {
  const args = ["publish", "--netboot", "--repo", w.fleet.dir, "--ref", tag, "--sign-key", w.keyFile, ...w.server.cliArgs, "--state-dir", w.stateDir, "--roots-dir", w.rootsDir, ...(opts.rollout ? ["--rollout"] : [])];
  const r = await oscd(args);
  const m = parseManifest(await readFile(join(w.server.cacheDir, "channels", "main.json"), "utf8"));
  if (m.version !== tag.replace(/^v/, "")) throw new StepFailed(`the manifest published is version ${m.version}, not ${tag}`);
  note(`oscd publish --netboot --server${opts.rollout ? " --rollout" : ""} → manifest sequence ${m.sequence} (${tag}, signed by ${w.publicKey.split(":")[0]}), ${Object.keys(m.hosts).length} hosts, closures in the server's cache`);
  const id = /^oscd: rollout ([0-9a-f]{16}): (.*)$/m.exec(r.stderr);
  if (opts.rollout) {
    if (!id) throw new StepFailed("oscd publish --rollout started no rollout", r.stderr);
    note(`rollout ${id[1]!.slice(0, 8)} with the channel's plan (oscd.toml): ${id[2]}`);
    return { manifest: m, rollout: { id: id[1]!, state: "running", reason: null, waves: [] } };
  }
  const waits = /^oscd: (main #\d+ \(\S+\) waits for a rollout.*)$/m.exec(r.stderr);
  if (!waits) throw new StepFailed("oscd publish --server did not say what the release waits for", r.stderr);
  note(`the server: ${waits[1]}`);
  return { manifest: m, waiting: waits[1] };
}

/** `oscd rollout start main#SEQ --waves …`: the waves given, the plan's bake and timeout. */
export async function startRollout(w: World, m: Manifest, waves: string): Promise<Rollout> {
  const r = await oscd(["rollout", "start", `main#${m.sequence}`, "--waves", waves, ...w.server.cliArgs, "--json"]);
  const ro = JSON.parse(r.stdout) as Rollout;
  note(`oscd rollout start main#${m.sequence} --waves '${waves}' → rollout ${ro.id.slice(0, 8)}: ${ro.waves.map((x) => `${x.name} (${x.hosts.join(", ")})`).join(" → ")}`);
  return ro;
}
