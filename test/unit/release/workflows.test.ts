import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildFullProgram } from "../../../src/cli/main.js";
import { githubWorkflows, PUBLISH_WORKFLOW, RELEASE_WORKFLOW, type WorkflowSettings } from "../../../src/scaffold/index.js";
import { checkInvocation, oscdInvocations, shellWords, workflowCommandProblems } from "./workflow-commands.js";

const settings: WorkflowSettings = {
  branch: "main",
  tagPrefix: "v",
  labels: { major: "release:major", minor: "release:minor", patch: "release:patch", none: "release:none" },
  oscdVersion: "0.1.0",
};

interface Workflow {
  name: string;
  on: Record<string, { types?: string[]; branches?: string[]; tags?: string[] }>;
  permissions: Record<string, string>;
  jobs: Record<string, { "runs-on": string; if?: string; steps: { name?: string; uses?: string; run?: string; with?: Record<string, unknown> }[] }>;
}

const files = () => Object.fromEntries(githubWorkflows(settings).map((f) => [f.path, f.content]));

describe("scaffolded GitHub workflows", () => {
  it("parse as YAML with GitHub Actions' structure", () => {
    for (const [path, text] of Object.entries(files())) {
      const wf = parse(text) as Workflow;
      expect(typeof wf.name, path).toBe("string");
      expect(Object.keys(wf.on).length, path).toBeGreaterThan(0);
      for (const job of Object.values(wf.jobs)) {
        expect(job["runs-on"]).toBe("ubuntu-latest");
        expect(job.steps.length).toBeGreaterThan(0);
        for (const step of job.steps) {
          expect(Boolean(step.uses) !== Boolean(step.run), JSON.stringify(step)).toBe(true);
          if (step.uses) expect(step.uses).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
        }
      }
    }
  });

  it("release runs on merged pull requests into the release branch, may push, checks out only the base", () => {
    const wf = parse(files()[RELEASE_WORKFLOW] as string) as Workflow;
    expect(wf.on).toEqual({ pull_request_target: { types: ["closed"], branches: ["main"] } });
    expect(wf.permissions).toEqual({ contents: "write" });
    const job = Object.values(wf.jobs)[0];
    expect(job?.if).toBe("github.event.pull_request.merged == true");
    const checkout = job?.steps.find((s) => s.uses?.startsWith("actions/checkout@"));
    expect(checkout?.with).toMatchObject({ ref: "${{ github.event.pull_request.base.ref }}", "fetch-depth": 0 });
    expect(oscdInvocations(files()[RELEASE_WORKFLOW] as string).map((i) => i.argv)).toEqual([["oscd", "release", "from-event", "$GITHUB_EVENT_PATH", "--push"]]);
  });

  it("publish runs on new tags and pushes to the release branch", () => {
    const wf = parse(files()[PUBLISH_WORKFLOW] as string) as Workflow;
    expect(wf.on).toEqual({ push: { branches: ["main"], tags: ["v*"] } });
    expect(oscdInvocations(files()[PUBLISH_WORKFLOW] as string).map((i) => i.argv)).toEqual([["oscd", "publish", "--ref", "$GITHUB_REF"]]);
  });

  it("quotes configured values so odd branch names and prefixes stay YAML strings", () => {
    const odd = githubWorkflows({ ...settings, branch: "release/2024: q1 #x", tagPrefix: "fleet-v" });
    const rel = parse(odd[0]?.content as string) as Workflow;
    const pub = parse(odd[1]?.content as string) as Workflow;
    expect(rel.on.pull_request_target?.branches).toEqual(["release/2024: q1 #x"]);
    expect(pub.on.push?.tags).toEqual(["fleet-v*"]);
  });

  it("every oscd command they call exists in the CLI, with its options and arguments", async () => {
    const program = await buildFullProgram();
    const all = Object.values(files());
    let checked = 0;
    for (const text of all) {
      const r = workflowCommandProblems(program, text);
      expect(r.problems).toEqual([]);
      checked += r.checked.length;
    }
    expect(program.commands.map((c) => c.name())).toEqual(expect.arrayContaining(["release", "publish"]));
    expect(checked).toBe(4);
  });

  it("the command check can fail: a missing command, a missing subcommand, an unknown option, a missing argument", async () => {
    const program = await buildFullProgram();
    expect(checkInvocation(program, ["oscd", "release", "from-event", "e.json", "--push"])).toEqual({ ok: true, command: ["release", "from-event"] });
    expect(checkInvocation(program, ["oscd", "frobnicate"])).toEqual({ ok: false, missingCommand: ["frobnicate"] });
    expect(checkInvocation(program, ["oscd", "release", "tag"])).toEqual({ ok: false, missingCommand: ["release", "tag"] });
    expect(checkInvocation(program, ["oscd", "release", "from-event", "e.json", "--pussh"])).toMatchObject({ ok: false, problem: "unknown option --pussh" });
    expect(checkInvocation(program, ["oscd", "release", "from-event", "--push"])).toMatchObject({ ok: false, problem: "needs 1 argument(s), got 0" });
    expect(checkInvocation(program, ["oscd", "release"])).toMatchObject({ ok: false });
    expect(checkInvocation(program, ["oscd", "release", "bump", "major", "patch", "--strategy", "highest"])).toMatchObject({ ok: true });
    const bad = "jobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: oscd deploy-everything --now\n      - run: oscd publish --ref x\n";
    const r = workflowCommandProblems(program, bad);
    expect(r.problems).toEqual(['x.steps[0] (unnamed): oscd deploy-everything --now: no command "oscd deploy-everything"']);
  });

  it("splits shell words like a shell for the forms workflows use", () => {
    expect(shellWords(`oscd release from-event "$GITHUB_EVENT_PATH" --push # comment`)).toEqual(["oscd", "release", "from-event", "$GITHUB_EVENT_PATH", "--push"]);
    expect(shellWords(`git config user.name 'a b' ""`)).toEqual(["git", "config", "user.name", "a b", ""]);
  });
});

describe("channel names from branch names", () => {
  it("oscd init names the channel after the branch in a form publish accepts, and the workflow publishes that channel", async () => {
    const { channelForBranch } = await import("../../../src/scaffold/fleet-file.js");
    const { CHANNEL_NAME } = await import("../../../src/manifest/index.js");
    for (const [branch, channel] of [["main", "main"], ["master", "master"], ["release/1.x", "release-1-x"], ["-x", "x"], ["///", "main"], ["prod_2024", "prod_2024"]] as const) {
      expect(channelForBranch(branch)).toBe(channel);
      expect(CHANNEL_NAME.test(channelForBranch(branch))).toBe(true);
    }
    const { publishWorkflow } = await import("../../../src/scaffold/github.js");
    const settings = { branch: "release/1.x", tagPrefix: "v", labels: { major: "a", minor: "b", patch: "c", none: undefined }, oscdVersion: "0.1.0" };
    expect(publishWorkflow(settings)).toContain('oscd publish --ref "$GITHUB_REF" --channel release-1-x');
    expect(publishWorkflow({ ...settings, branch: "main" })).toMatch(/oscd publish --ref "\$GITHUB_REF"\n/);
  });
});
