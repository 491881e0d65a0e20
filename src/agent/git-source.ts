import { watch, type FSWatcher } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { buildHosts, hostTarget, pinnedFleetOf } from "../builder/index.js";
import { GuardError, OscdError, isOscdError } from "../core/errors.js";
import { ensureMirror, fetch, isAncestor, resolveCommit, verifyCommitSignature, type SignatureTrust } from "../git/index.js";
import { prepareSource, type PinnedSource } from "../source/index.js";
import type { Agent } from "./agent.js";
import { branchName, type RemoteConfig } from "./config.js";
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
 * offer the result. A newer commit arriving during a build makes that build's result stale: it
 * is dropped and the newer commit is built.
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

  constructor(
    private readonly agent: Agent,
    private readonly r: RemoteConfig,
    private readonly trust: SignatureTrust[],
  ) {
    this.name = `git:${r.name}`;
    this.mirror = join(agent.opts.config.stateDir, "agent", "git", `${r.name}.git`);
  }

  fetchNow(): void {
    this.wake.fire();
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watchers) w.close();
    this.wake.fire();
  }

  async run(): Promise<void> {
    const a = this.agent;
    const backoff = a.opts.config.backoff;
    await this.watchLocal();
    let failures = 0;
    while (!this.stopped) {
      let delay = this.r.poller.period * 1000;
      try {
        const heads = await this.fetchHeads();
        failures = 0;
        const choice = await chooseCommit(this.mirror, this.r, a.host, heads, a.state.git[this.r.name]?.main);
        const changed = choice !== undefined && choice.commit !== this.target && choice.commit !== this.failed;
        a.emit({ type: "fetched", at: a.now(), source: this.name, status: changed ? "new" : "not-modified" });
        if (choice && changed) {
          await this.checkSignature(choice.commit);
          a.emit({ type: "verified", at: a.now(), source: this.name, detail: `${choice.branch} at ${choice.commit.slice(0, 12)}` });
          this.target = choice.commit;
          void this.prepare(choice, ++this.generation);
        }
      } catch (e) {
        if (e instanceof GuardError) {
          if (a.observer.status.sources[this.name]?.refusal?.message !== e.message) a.emit({ type: "refused", at: a.now(), source: this.name, code: e.code, message: oneLine(e) });
        } else {
          failures++;
          delay = Math.min(backoff.max, backoff.initial * 2 ** (failures - 1)) * 1000;
          a.emit({ type: "fetch-failed", at: a.now(), source: this.name, code: isOscdError(e) ? e.code : "internal", message: oneLine(e), retryInSeconds: Math.round(delay / 1000) });
        }
      }
      await this.wake.wait(delay);
    }
  }

  private async fetchHeads(): Promise<{ main?: string; testing?: string }> {
    const timeoutMs = this.r.timeout * 1000;
    const env = await remoteAuthEnv(this.r);
    await ensureMirror(this.mirror, [{ name: "origin", url: this.r.url }], { removeOthers: true, timeoutMs });
    await fetch(this.mirror, "origin", { refspecs: ["+refs/heads/*:refs/remotes/origin/*"], prune: true, tags: false, timeoutMs, env });
    const head = (b: string) => resolveCommit(this.mirror, `refs/remotes/origin/${branchName(b, this.agent.host)}`).catch(() => undefined);
    return { main: await head(this.r.branches.main.name), testing: await head(this.r.branches.testing.name) };
  }

  private async checkSignature(commit: string): Promise<void> {
    if (this.trust.length === 0) return;
    let last: unknown;
    for (const t of this.trust) {
      try {
        await verifyCommitSignature(this.mirror, commit, t);
        return;
      } catch (e) {
        last = e;
      }
    }
    throw last instanceof GuardError ? last : new GuardError("git-bad-signature", `commit ${commit.slice(0, 12)} has no signature by a trusted key: ${oneLine(last)}`);
  }

  /** Pin, evaluate, build; offer unless a newer commit came meanwhile. */
  private async prepare(choice: GitChoice, generation: number): Promise<void> {
    const a = this.agent;
    const cfg = a.opts.config;
    const stale = () => generation !== this.generation || this.stopped;
    let phase: "eval" | "build" = "eval";
    try {
      const pinned = await prepareSource({ kind: "commit", commit: choice.commit }, {
        remote: this.r.url,
        mirrorDir: join(cfg.stateDir, "agent", "git", `${this.r.name}-source.git`),
        rootDir: a.layout.gcrootDir,
        git: { env: await remoteAuthEnv(this.r), timeoutMs: this.r.timeout * 1000 },
      });
      if (stale()) return;
      const p = await pinnedFleetOf(inSubdirectory(pinned, cfg.flakeSubdirectory), this.r.url);
      phase = "build";
      const settings: Record<string, string> = {};
      if (cfg.substituters.length > 0) settings.substituters = cfg.substituters.join(" ");
      if (cfg.trustedPublicKeys.length > 0) settings["trusted-public-keys"] = cfg.trustedPublicKeys.join(" ");
      // nix.timeoutMs bounds each Nix call of the evaluation; the build step has its own limit.
      const report = await buildHosts(p, { rootDir: a.layout.gcrootDir, buildTimeoutMs: cfg.buildTimeout * 1000, nix: { settings, timeoutMs: cfg.evalTimeout * 1000 } }, hostTarget(p, a.host));
      const built = report.hosts[0];
      if (!built?.toplevel || built.status === "failed") {
        if (built?.failedStep === "evaluate") phase = "eval";
        throw built?.error ?? new OscdError("build-failed", `building ${a.host} at ${choice.commit.slice(0, 12)} gave no toplevel`);
      }
      if (stale()) return;
      a.offer(
        {
          source: `${this.name}/${choice.branch}`,
          toplevel: built.toplevel,
          mode: choice.mode,
          release: { version: pinned.version, commit: choice.commit, ref: choice.branch },
          caches: cfg.substituters,
          git: { remote: this.r.name, branch: choice.branch, role: choice.role },
        },
        `${choice.branch} at ${choice.commit.slice(0, 12)}${choice.role === "testing" ? " (testing, on top of main)" : ""}`,
      );
    } catch (e) {
      if (stale()) return;
      this.failed = choice.commit;
      this.target = undefined;
      a.emit({ type: "deploy-failed", at: a.now(), source: this.name, toplevel: "", mode: choice.mode, code: isOscdError(e) ? e.code : "internal", message: oneLine(e), phase });
    }
  }

  /** A local path remote: watch its refs, so a commit is seen at once. */
  private async watchLocal(): Promise<void> {
    if (!this.r.url.startsWith("/")) return;
    const gitDir = (await stat(join(this.r.url, ".git")).then(() => true, () => false)) ? join(this.r.url, ".git") : this.r.url;
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
