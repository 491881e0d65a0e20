import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildFullProgram } from "../../../src/cli/main.js";
import { IMPACT_MARKER } from "../../../src/cli/system-diff-format.js";
import { githubWorkflows, IMPACT_WORKFLOW, UPDATE_WORKFLOW, type WorkflowSettings } from "../../../src/scaffold/index.js";
import { oscdInvocations, workflowCommandProblems } from "../release/workflow-commands.js";

const settings: WorkflowSettings = {
  branch: "main",
  tagPrefix: "v",
  labels: { major: "release:major", minor: "release:minor", patch: "release:patch", none: "release:none" },
  oscdVersion: "0.1.0",
};

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, { steps: Step[] }>;
}

const files = () => Object.fromEntries(githubWorkflows(settings).map((f) => [f.path, f.content]));
const steps = (path: string) => Object.values((parse(files()[path] as string) as Workflow).jobs)[0]?.steps ?? [];

describe("oscd init --ci github: update and impact workflows", () => {
  it("update runs on a schedule and opens a labelled pull request, the token only in the environment", () => {
    const wf = parse(files()[UPDATE_WORKFLOW] as string) as Workflow;
    expect(Object.keys(wf.on).sort()).toEqual(["schedule", "workflow_dispatch"]);
    expect(wf.permissions).toEqual({ contents: "write", "pull-requests": "write" });
    expect(oscdInvocations(files()[UPDATE_WORKFLOW] as string).map((i) => i.argv)).toEqual([["oscd", "update", "--github", "--release", "patch"]]);
    const step = steps(UPDATE_WORKFLOW).find((s) => s.run?.includes("oscd update"));
    expect(step?.env?.GITHUB_TOKEN).toContain("github.token");
    expect(step?.run).not.toMatch(/TOKEN/);
  });

  it("impact runs on pull requests (never pull_request_target) and posts one comment found by its marker", () => {
    const wf = parse(files()[IMPACT_WORKFLOW] as string) as Workflow;
    expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    expect(wf.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    expect(oscdInvocations(files()[IMPACT_WORKFLOW] as string).map((i) => i.argv)).toEqual([["oscd", "impact", "--from", "oscd-impact-base", "--to", "HEAD", "--format", "markdown", "--output", "oscd-impact.md"]]);
    const post = steps(IMPACT_WORKFLOW).find((s) => s.uses?.startsWith("actions/github-script@"));
    expect(post?.if).toBe("always()");
    expect(post?.with?.script).toContain(`const marker = ${JSON.stringify(IMPACT_MARKER)}`);
    expect(post?.with?.script).toContain("updateComment");
  });

  it("every oscd command they call exists with its options", async () => {
    const program = await buildFullProgram();
    for (const path of [UPDATE_WORKFLOW, IMPACT_WORKFLOW]) expect(workflowCommandProblems(program, files()[path] as string).problems).toEqual([]);
  });
});
