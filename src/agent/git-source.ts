import { watch, type FSWatcher } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { buildRootName, evaluateTargets, hostTarget, pinnedFleetOf, realiseJobs } from "../builder/index.js";
import { GuardError, OscdError, isOscdError } from "../core/errors.js";
import { ensureMirror, fetch, isAncestor, resolveRefs, verifyByAny, verifySignedHistory, type SignatureTrust } from "../git/index.js";
import { MIRROR_REFSPECS, prepareSource, type PinnedSource } from "../source/index.js";
import { branchName, type RemoteConfig } from "./config.js";
import type { AgentContext } from "./context.js";
import type { Candidate } from "./guards.js";
import { Wake } from "./wake.js";

/** The commit a remote's branches say to run, and as what. */
export interface GitChoice {
  commit: string;
  branch: string;
  role: "main" | "testing";
  mode: Candidate["mode"];
}

/**
 * comin's rules for one remote's heads: main must descend from the last deployed main commit
 * (a rewritten main is refused); testing wins when it sits on main and is ahead of it (it may be
 * force-pushed), and is ignored when it does not sit on main.
 */
export async function chooseCommit(
  mirror: string,
  r: RemoteConfig,
  host: string,
  heads: { main?: string; testing?: string },
  lastMain: string | undefined,
): Promise<GitChoice | undefined> {
  const mainName = branchName(r.branches.main.name, host);
  const testingName = branchName(r.branches.testing.name, host);
  if (!heads.main) return undefined;
  if (lastMain && lastMain !== heads.main && !(await isAncestor(mirror, lastMain, heads.main).catch(() => false))) {
    throw new GuardError(
      "git-main-rewritten",
      `remote ${r.name}: ${mainName} is at ${heads.main.slice(0, 12)}, which does not descend from ${lastMain.slice(0, 12)}, the last main commit deployed here (a force-push or a hard reset)`,
      "main only moves forward; revert on top of it instead of rewriting it, or reset the agent's state if the rewrite was intended",
    );
  }
  if (heads.testing && heads.testing !== heads.main && (await isAncestor(mirror, heads.main, heads.testing))) {
    return { commit: heads.testing, branch: testingName, role: "testing", mode: r.branches.testing.operation };
  }
  return { commit: heads.main, branch: mainName, role: "main", mode: r.branches.main.operation };
}

/**
 * One git remote: fetch on its poller period (at once on a file-system event for a local path),
 * guard the heads, pin the chosen commit through the same source preparation as `oscd upgrade`,
 * evaluate and build this host with the builder (nothing is built when the output exists), and
 * offer the result. A newer commit arriving during an evaluation or build cancels it (the Nix
 * process group is stopped) and the newer commit is prepared instead.
 *
 * One bare mirror per remote holds its branches and tags: the fetch that shows the heads is
 * the one the source preparation reads, so a commit costs one fetch, not two.
 */
export class GitWatcher {
  readonly name: string;
  private readonly wake = new Wake();
  private stopped = false;
  private watchers: FSWatcher[] = [];
  private readonly mirror: string;
  /** The commit being prepared or last offered, and a commit whose preparation failed (not retried until it moves). */
  private target: string | undefined;
  private failed: string | undefined;
  private generation = 0;
  /** The preparation in progress: aborted when a newer commit arrives or the agent stops. */
  private preparing: { commit: string; abort: AbortController; phase: "eval" | "build" } | undefined;
  /** The mirror exists with the right remote (checked once, again after a failed fetch). */
  private mirrorReady = false;
  /** A local remote's branch refs as last fetched: a file event that left them as they were needs no fetch. */
  private localRefs: string | undefined;
  private fetchRequested = false;
  private lastChoice: { key: string; choice: GitChoice | undefined } | undefined;

  constructor(
    private readonly agent: AgentContext,
    private readonly r: RemoteConfig,
    private readonly trust: SignatureTrust[],
  ) {
    this.name = `git:${r.name}`;
    this.mirror = join(agent.config.stateDir, "agent", "git", `${r.name}.git`);
  }

  fetchNow(): void {
    this.fetchRequested = true;
    this.wake.fire();
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watchers) w.close();
    this.preparing?.abort.abort();
    this.wake.fire();
  }

  async run(): Promise<void> {
    const a = this.agent;
    const backoff = a.config.backoff;
    await this.watchLocal();
    let failures = 0;
    let due = true;
    while (!this.stopped) {
      let delay = this.r.poller.period * 1000;
      try {
        // Woken only by file events in the remote (its index, logs, ORIG_HEAD) that left its
        // branches as they were: no fetch. The poller period and `fetch` requests always fetch.
        const forced = due || this.fetchRequested;
        this.fetchRequested = false;
        const refs = forced ? undefined : await this.readLocalRefs();
        if (refs === undefined || refs !== this.localRefs) await this.poll(refs);
      } catch (e) {
        if (e instanceof GuardError) {
          if (a.status.sources[this.name]?.refusal?.message !== e.message) a.emit({ type: "refused", at: a.now(), source: this.name, code: e.code, message: oneLine(e) });
        } else {
          failures++;
          delay = Math.min(backoff.max, backoff.initial * 2 ** (failures - 1)) * 1000;
          a.emit({ type: "fetch-failed", at: a.now(), source: this.name, code: isOscdError(e) ? e.code : "internal", message: oneLine(e), retryInSeconds: Math.round(delay / 1000) });
        }
      }
      const started = Date.now();
      await this.wake.wait(delay);
      due = Date.now() - started >= delay;
    }
  }

  /** One fetch: guard the heads, and prepare the chosen commit when it is new. */
  private async poll(localRefs: string | undefined): Promise<void> {
    const a = this.agent;
    // Read before the fetch: a ref that moves meanwhile then differs next time, never the reverse.
    const before = localRefs ?? (await this.readLocalRefs());
    const heads = await this.fetchHeads();
    this.localRefs = before;
    const lastMain = a.state.git[this.r.name]?.main;
    // History is immutable: the same heads over the same last main give the same answer.
    const key = `${heads.main}|${heads.testing}|${lastMain}`;
    const choice = this.lastChoice?.key === key ? this.lastChoice.choice : await chooseCommit(this.mirror, this.r, a.host, heads, lastMain);
    this.lastChoice = { key, choice };
    const changed = choice !== undefined && choice.commit !== this.target && choice.commit !== this.failed;
    a.emit({ type: "fetched", at: a.now(), source: this.name, status: changed ? "new" : "not-modified" });
    if (choice && changed) {
      await this.checkSignature(choice.commit, lastMain);
      a.emit({ type: "verified", at: a.now(), source: this.name, detail: `${choice.branch} at ${choice.commit.slice(0, 12)}` });
      this.target = choice.commit;
      const old = this.preparing;
      if (old) {
        old.abort.abort();
        a.emit({ type: "superseded", at: a.now(), source: this.name, commit: old.commit, by: choice.commit, phase: old.phase });
      }
      void this.prepare(choice, ++this.generation);
    }
  }

  private async fetchHeads(): Promise<{ main?: string; testing?: string }> {
    const timeoutMs = this.r.timeout * 1000;
    const env = await remoteAuthEnv(this.r);
    if (!this.mirrorReady) {
      await ensureMirror(this.mirror, [{ name: "origin", url: this.r.url }], { removeOthers: true, timeoutMs });
      this.mirrorReady = true;
    }
    try {
      // Branches and tags, as the source preparation of `oscd upgrade` fetches them.
      await fetch(this.mirror, "origin", { refspecs: MIRROR_REFSPECS, prune: true, tags: true, timeoutMs, env });
    } catch (e) {
      this.mirrorReady = false;
      throw e;
    }
    const ref = (b: string) => `refs/remotes/origin/${branchName(b, this.agent.host)}`;
    const [main, testing] = [ref(this.r.branches.main.name), ref(this.r.branches.testing.name)];
    const heads = await resolveRefs(this.mirror, [main, testing]);
    return { main: heads.get(main), testing: heads.get(testing) };
  }

  /**
   * For a local remote: its branch refs as files (loose refs and packed-refs), read without a
   * git process. Only compared with itself, to skip fetches; what is deployed comes from the fetch.
   */
  private async readLocalRefs(): Promise<string | undefined> {
    if (!this.localGitDir) return undefined;
    const dir = this.localGitDir;
    const read = (f: string) => readFile(join(dir, f), "utf8").catch(() => "");
    const names = [this.r.branches.main.name, this.r.branches.testing.name].map((b) => `refs/heads/${branchName(b, this.agent.host)}`);
    return (await Promise.all([...names.map(read), read("packed-refs")])).join("\0");
  }

  /**
   * The tip is signed by a trusted key (when keys are configured); with `requireSignedHistory`,
   * so is every commit since the last deployed main commit (the first deployment has none: its
   * tip is checked).
   */
  private async checkSignature(commit: string, lastMain: string | undefined): Promise<void> {
    if (this.trust.length === 0) return;
    if (this.agent.config.requireSignedHistory && lastMain !== undefined && lastMain !== commit) {
      await verifySignedHistory(this.mirror, lastMain, commit, this.trust);
      return;
    }
    try {
      await verifyByAny(this.mirror, commit, this.trust);
    } catch (e) {
      throw e instanceof GuardError ? e : new GuardError("git-bad-signature", `commit ${commit.slice(0, 12)} has no signature by a trusted key: ${oneLine(e)}`);
    }
  }

  /** Pin, evaluate, build; offer unless a newer commit came meanwhile. */
  private async prepare(choice: GitChoice, generation: number): Promise<void> {
    const a = this.agent;
    const cfg = a.config;
    const abort = new AbortController();
    const mine = { commit: choice.commit, abort, phase: "eval" as "eval" | "build" };
    this.preparing = mine;
    const stale = () => generation !== this.generation || this.stopped || abort.signal.aborted;
    try {
      const pinned = await prepareSource({ kind: "commit", commit: choice.commit }, {
        remote: this.r.url,
        mirrorDir: this.mirror,
        fetched: true,
        rootDir: a.layout.gcrootDir,
        git: { env: await remoteAuthEnv(this.r), timeoutMs: this.r.timeout * 1000 },
      });
      if (stale()) return;
      const p = await pinnedFleetOf(inSubdirectory(pinned, cfg.flakeSubdirectory), this.r.url);
      const settings: Record<string, string> = {};
      if (cfg.substituters.length > 0) settings.substituters = cfg.substituters.join(" ");
      if (cfg.trustedPublicKeys.length > 0) settings["trusted-public-keys"] = cfg.trustedPublicKeys.join(" ");
      const nix = { settings, signal: abort.signal };
      // The builder's evaluation and build steps for this one host, without what a build
      // machine needs and a host building itself does not (platform checks, closure sizes).
      const [target] = hostTarget(p, a.host).selected;
      if (!target) throw new OscdError("build-failed", `no build target for ${a.host}`);
      const evaluated = (await evaluateTargets(p.nixSource, [target], { ...nix, timeoutMs: cfg.evalTimeout * 1000 })).get(target.name);
      if (!evaluated?.ok) throw evaluated?.error ?? new OscdError("nix-eval-failed", `evaluating ${a.host} at ${choice.commit.slice(0, 12)} gave nothing`);
      if (stale()) return;
      mine.phase = "build";
      const job = { host: target.name, drvPath: evaluated.value.drvPath, outPath: evaluated.value.outPath };
      const results = await realiseJobs([job], { ...nix, timeoutMs: cfg.buildTimeout * 1000, rootDir: a.layout.gcrootDir, rootName: (host) => buildRootName(p.fleet.config.fleet.name, host) });
      const built = results.get(target.name);
      if (built?.status === "failed") throw built.error;
      if (stale()) return;
      a.offer(
        {
          source: `${this.name}/${choice.branch}`,
          toplevel: job.outPath,
          mode: choice.mode,
          release: { version: pinned.version, commit: choice.commit, ref: choice.branch },
          caches: cfg.substituters,
          git: { remote: this.r.name, branch: choice.branch, role: choice.role },
          builtHere: true,
        },
        `${choice.branch} at ${choice.commit.slice(0, 12)}${choice.role === "testing" ? " (testing, on top of main)" : ""}`,
      );
    } catch (e) {
      if (stale()) return;
      this.failed = choice.commit;
      this.target = undefined;
      a.emit({ type: "deploy-failed", at: a.now(), source: this.name, toplevel: "", mode: choice.mode, code: isOscdError(e) ? e.code : "internal", message: oneLine(e), phase: mine.phase });
    } finally {
      if (this.preparing === mine) this.preparing = undefined;
    }
  }

  /** A local path remote: watch its refs, so a commit is seen at once. */
  private localGitDir: string | undefined;

  private async watchLocal(): Promise<void> {
    if (!this.r.url.startsWith("/")) return;
    const gitDir = (await stat(join(this.r.url, ".git")).then(() => true, () => false)) ? join(this.r.url, ".git") : this.r.url;
    this.localGitDir = gitDir;
    for (const d of [gitDir, join(gitDir, "refs", "heads")]) {
      try {
        const w = watch(d, { persistent: false }, () => this.wake.fire());
        w.on("error", () => w.close());
        this.watchers.push(w);
      } catch {
        // Not there (yet): the poller still sees commits.
      }
    }
  }
}

/**
 * comin's per-remote `auth`: an SSH deploy key (GIT_SSH_COMMAND), or an access token for https
 * sent as an extra header through git's environment configuration (GIT_CONFIG_COUNT), so the
 * token is never in an argument list or a URL.
 */
export async function remoteAuthEnv(r: RemoteConfig): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  if (r.auth.sshDeployKeyPath) env.GIT_SSH_COMMAND = `ssh -i '${r.auth.sshDeployKeyPath.replace(/'/g, "")}' -o IdentitiesOnly=yes -o BatchMode=yes`;
  if (r.auth.accessTokenPath) {
    const token = (await readFile(r.auth.accessTokenPath, "utf8")).trim();
    if (!/^[\x21-\x7e]+$/.test(token)) throw new OscdError("agent-config", `${r.auth.accessTokenPath} does not hold a token (one line of printable characters)`, { exitCode: 2 });
    env.GIT_CONFIG_COUNT = "1";
    env.GIT_CONFIG_KEY_0 = "http.extraHeader";
    env.GIT_CONFIG_VALUE_0 = `Authorization: Bearer ${token}`;
  }
  return env;
}

/**
 * The fleet in a subdirectory of the repository (`flakeSubdirectory`): oscd.toml and flake.nix
 * there. Nix 2.8's path: references have no `dir`; a path inside the (immutable) snapshot in the
 * store is just as exact.
 */
export function inSubdirectory(p: PinnedSource, sub: string): PinnedSource {
  if (!sub) return p;
  const storePath = join(p.snapshot.storePath, sub.replace(/\/+$/, ""));
  return { ...p, snapshot: { storePath, flakeRef: `path:${storePath}` } };
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";
}
