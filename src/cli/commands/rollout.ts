import { InvalidArgumentError, type Command } from "commander";
import { EXIT, UsageError } from "../../core/errors.js";
import { parseDuration, parseWaves, RolloutPlanError, type RolloutPlan } from "../../plan/index.js";
import type { RolloutView, ServerClient } from "../../server-client/index.js";
import { positiveInt } from "../build-options.js";
import { hostNames } from "../confirm.js";
import { printJson, printJsonLine } from "../output.js";
import { dryRunPlan } from "../../core/dry-run.js";
import { dryRunHelp, printDryRun } from "../dry-run.js";
import { changeLines, liveBlock, planLine, releaseName, rolloutBlock, rolloutListTable } from "../rollout-format.js";

interface ServerFlags {
  server?: string;
  serverTokenFile?: string;
  json?: boolean;
}

/** The client module is loaded only when a command runs (not for `--help`). */
async function client(o: ServerFlags): Promise<{ c: ServerClient; api: typeof import("../../server-client/index.js") }> {
  const api = await import("../../server-client/index.js");
  const url = api.serverUrl(o.server);
  return { c: new api.ServerClient(url, await api.readServerToken(o.serverTokenFile)), api };
}

function serverOptions(cmd: Command): Command {
  return cmd
    .option("--server <url>", "the control server (default: $OSCD_SERVER)")
    .option("--server-token-file <file>", "a file holding a token (default: $OSCD_SERVER_TOKEN); starting and steering rollouts needs an operator or admin token")
    .option("--json", "print JSON");
}

const planArg = (what: string, f: (v: string) => unknown) => (v: string) => {
  try {
    return f(v);
  } catch (e) {
    throw new InvalidArgumentError(e instanceof RolloutPlanError ? e.message : `not a ${what}`);
  }
};

/** `main`, `main#5`. */
function releaseArg(v: string): { channel: string; sequence?: number } {
  const m = /^([A-Za-z0-9][A-Za-z0-9_-]{0,99})(?:#(\d{1,15}))?$/.exec(v);
  if (!m) throw new UsageError(`${JSON.stringify(v.slice(0, 60))} is not CHANNEL or CHANNEL#SEQUENCE`, "e.g. `oscd rollout start main` (its newest release) or `oscd rollout start main#42`", "usage");
  return { channel: m[1] as string, sequence: m[2] === undefined ? undefined : Number(m[2]) };
}

/**
 * `--watch`: live until the rollout is done, aborted or halted; on a terminal the status block is
 * drawn again in place, otherwise one line per change. Exit 0 when done, 1 when halted or aborted.
 */
async function watch(c: ServerClient, api: typeof import("../../server-client/index.js"), id: string, json: boolean | undefined): Promise<void> {
  const tty = process.stdout.isTTY === true && !json;
  const lines = changeLines();
  const draw = tty ? liveBlock((s) => process.stdout.write(s)) : undefined;
  const final = await api.watchRollout(c, id, (r) => {
    if (json) printJsonLine(r);
    else if (draw) draw(r);
    else for (const l of lines(r)) process.stdout.write(l + "\n");
  });
  if (final.state !== "done") {
    process.exitCode = EXIT.failed;
    if (!json) process.stderr.write(`oscd: rollout ${final.id.slice(0, 8)} ended ${final.state}${final.reason ? `: ${final.reason}` : ""}\n${final.state === "halted" ? "hint: fix the failing hosts (or raise the failure budget), then `oscd rollout resume`; or roll out a newer release\n" : ""}`);
  }
}

function printRollout(r: RolloutView, json: boolean | undefined): void {
  if (json) printJson(r);
  else process.stdout.write(rolloutBlock(r, Date.now()));
}

export function registerRollout(program: Command): void {
  const rollout = program
    .command("rollout")
    .description("staged rollouts on the control server: start one wave by wave, watch it live per host, pause, resume, promote or abort it")
    .addHelpText(
      "after",
      `
Examples:
  export OSCD_SERVER=https://oscd.example.org     # or --server URL on each command
  export OSCD_SERVER_TOKEN="$(cat /run/secrets/oscd-operator)"   # or --server-token-file FILE
  oscd rollout start main --waves 'canary=web1; @web; 50%; rest' --bake 10m --max-failures 1 --watch
  oscd rollout start main#42                # release 42 of main, with the channel's plan (oscd.toml)
  oscd rollout start main --immediate       # the newest release of main to every host at once
  oscd rollout status --watch               # the active rollout, live per wave and per host
  oscd rollout pause | resume | promote | abort [ID]
  oscd rollout start main --dry-run         # the release and waves it would start, starting nothing
  oscd rollout list --json

Waves (separated by ';'): canary=HOST,… first; @TAG; N% (cumulative share of the hosts); HOST,…;
rest (implied). Each wave starts when every host of the one before reported healthy and the bake
time passed; more failed hosts than --max-failures halt the rollout (resume it once fixed).`,
    );

  serverOptions(
    rollout
      .command("start")
      .description("start a rollout of a channel's release (default: its newest), wave by wave; without --waves the channel's plan is used")
      .argument("<channel[#sequence]>", "the channel, and which release of it (default: the newest)")
      .option("--waves <spec>", "the waves, e.g. 'canary=web1; @web; 50%; rest' (default: the channel's plan from oscd.toml, else all hosts in one wave)", planArg("wave list", parseWaves))
      .option("--bake <duration>", "how long each wave must stay healthy before the next starts, e.g. 90s, 10m, 1h (default: the plan's, else 5m)", planArg("duration", (v) => parseDuration(v, "--bake", 7 * 86_400)))
      .option("--max-failures <n>", "failed hosts tolerated before the rollout halts (default: the plan's, else 0)", planArg("number", (v) => {
        if (!/^\d{1,7}$/.test(v)) throw new RolloutPlanError("--max-failures takes a whole number");
        return Number(v);
      }))
      .option("--wave-timeout <duration>", "a host of a started wave silent this long counts as failed (default: the plan's, else 1h; 0: wait for ever)", planArg("duration", (v) => parseDuration(v, "--wave-timeout")))
      .option("--immediate", "no waves: serve the release to every host at once")
      .option("--watch", "then follow it live until it is done, halted or aborted")
      .option("--dry-run", dryRunHelp("it reads the channel's releases, plan and rollouts from the server and starts nothing")),
  ).action(async (spec: string, o: ServerFlags & { waves?: Pick<RolloutPlan, "canary" | "waves">; bake?: number; maxFailures?: number; waveTimeout?: number; immediate?: boolean; watch?: boolean; dryRun?: boolean }) => {
    const rel = releaseArg(spec);
    if (o.immediate && (o.waves || o.bake !== undefined || o.maxFailures !== undefined || o.waveTimeout !== undefined || o.watch)) {
      throw new UsageError("--immediate releases to every host at once: it takes no waves, bake, failure budget, timeout or --watch", "drop --immediate for a staged rollout", "usage");
    }
    const { c, api } = await client(o);
    if (o.dryRun) {
      const sequence = rel.sequence ?? (await api.listReleases(c, rel.channel))[0]?.sequence;
      if (sequence === undefined) throw new UsageError(`channel ${rel.channel} has no release on ${c.shown}`, "publish one: `oscd publish --server URL`", "rollout-unknown");
      const plan = dryRunPlan(o.immediate ? "rollout start --immediate" : "rollout start", [`read channel ${rel.channel}'s releases, plan and rollouts from ${c.shown}`]);
      if (o.immediate) plan.steps.push({ action: "serve", target: c.shown, detail: `${rel.channel} #${sequence} to every host at once` });
      else {
        const kept = await api.getPlan(c, rel.channel);
        const p: RolloutPlan = { ...(o.waves ? {} : kept?.plan), ...o.waves, ...(o.bake !== undefined ? { bakeSeconds: o.bake } : {}), ...(o.maxFailures !== undefined ? { maxFailures: o.maxFailures } : {}), ...(o.waveTimeout !== undefined ? { waveTimeoutSeconds: o.waveTimeout } : {}) };
        const from = o.waves ? "--waves" : kept ? `the channel's plan (${kept.source})` : "no plan: every host in one wave";
        plan.steps.push({ action: "start rollout", target: c.shown, detail: `${rel.channel} #${sequence}: ${planLine(p)} (${from})` });
        const active = (await api.listRollouts(c)).find((r) => r.channel === rel.channel && api.ACTIVE_STATES.has(r.state));
        if (active) plan.warnings.push(`channel ${rel.channel} has rollout ${active.id.slice(0, 8)} ${active.state}: the server would refuse a new one until it is aborted or done`);
      }
      return printDryRun(plan, o.json);
    }
    if (o.immediate) {
      const sequence = rel.sequence ?? (await api.listReleases(c, rel.channel))[0]?.sequence;
      if (sequence === undefined) throw new UsageError(`channel ${rel.channel} has no release on ${c.shown}`, "publish one: `oscd publish --server URL`", "rollout-unknown");
      await api.releaseToAll(c, rel.channel, sequence);
      if (o.json) printJson({ channel: rel.channel, sequence, state: "complete" });
      else process.stdout.write(`${rel.channel} #${sequence}: served to every host\n`);
      return;
    }
    const r = await api.startRollout(c, { channel: rel.channel, sequence: rel.sequence, ...o.waves, bakeSeconds: o.bake, maxFailures: o.maxFailures, waveTimeoutSeconds: o.waveTimeout });
    if (!o.json || !o.watch) {
      if (o.json) printJson(r);
      else process.stderr.write(`oscd: rollout ${r.id} of ${releaseName(r)}: ${r.waves.map((w) => `${w.name} (${hostNames(w.hosts)})`).join(" → ")}\n`);
    }
    if (o.watch) await watch(c, api, r.id, o.json);
    else if (!o.json) process.stderr.write(`oscd: follow it with \`oscd rollout status ${r.id.slice(0, 8)} --watch\`\n`);
  });

  serverOptions(
    rollout
      .command("status")
      .description("a rollout wave by wave and host by host (default: the active one); --watch follows it live")
      .argument("[id]", "the rollout's id or its first digits (default: the active rollout, else the newest)")
      .option("--channel <name>", "the active (or newest) rollout of this channel")
      .option("--watch", "follow it live until it is done, halted or aborted (exit 0 when done, 1 otherwise)"),
  ).action(async (id: string | undefined, o: ServerFlags & { channel?: string; watch?: boolean }) => {
    const { c, api } = await client(o);
    const r = await api.findRollout(c, id, o.channel);
    if (o.watch) return watch(c, api, r.id, o.json);
    printRollout(r, o.json);
  });

  for (const [action, what] of [
    ["pause", "stop starting waves (hosts already reached keep the release); resume goes on"],
    ["resume", "go on with a paused rollout, or a halted one once its failed hosts are fixed"],
    ["promote", "end the current wave now (skip its bake time and wait for no more reports) and start the next"],
    ["abort", "stop the rollout for good; hosts it reached keep the release, the others keep theirs"],
  ] as const) {
    serverOptions(
      rollout
        .command(action)
        .description(what)
        .argument("[id]", "the rollout's id or its first digits (default: the active rollout)")
        .option("--channel <name>", "the active rollout of this channel")
        .option("--dry-run", dryRunHelp("it finds the rollout on the server and changes nothing")),
    ).action(async (id: string | undefined, o: ServerFlags & { channel?: string; dryRun?: boolean }) => {
      const { c, api } = await client(o);
      const found = await api.findRollout(c, id, o.channel);
      if (o.dryRun) {
        const plan = dryRunPlan(`rollout ${action}`, [`found rollout ${found.id.slice(0, 8)} on ${c.shown}`]);
        plan.steps.push({ action, target: `rollout ${found.id}`, detail: `${releaseName(found)}, now ${found.state}` });
        return printDryRun(plan, o.json);
      }
      const r = await api.rolloutAction(c, found.id, action);
      if (o.json) return printJson(r);
      process.stdout.write(`rollout ${r.id.slice(0, 8)} (${releaseName(r)}): ${r.state}${r.reason ? `: ${r.reason}` : ""}\n`);
    });
  }

  serverOptions(
    rollout
      .command("list")
      .description("rollouts, newest first: release, state, current wave, hosts healthy and failed")
      .option("--channel <name>", "only this channel's")
      .option("--limit <n>", "the newest N rollouts (default 50, at most 200)", positiveInt),
  ).action(
    async (o: ServerFlags & { channel?: string; limit?: number }) => {
      const { c, api } = await client(o);
      const rs = (await api.listRollouts(c, o.limit)).filter((r) => !o.channel || r.channel === o.channel);
      if (o.json) return printJson({ rollouts: rs });
      if (rs.length === 0) return void process.stdout.write("no rollouts\n");
      process.stdout.write(rolloutListTable(rs, Date.now()));
    },
  );

  serverOptions(rollout.command("plan").description("the channel's rollout plan as the server keeps it (from oscd.toml through oscd publish --server)").argument("<channel>", "the channel")).action(
    async (channel: string, o: ServerFlags) => {
      const { c, api } = await client(o);
      const p = await api.getPlan(c, releaseArg(channel).channel);
      if (o.json) return printJson(p ?? { plan: null });
      process.stdout.write(p ? `${channel}: ${planLine(p.plan)} (from ${p.source})\n` : `${channel}: no plan on ${c.shown}; a rollout without --waves moves every host at once after the default 5m bake\n`);
    },
  );
}
