import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, controlEvents, controlRequest, parseAgentConfig, type AgentStatus } from "../../../src/agent/index.js";
import { agentLogger } from "../../../src/agent/log.js";
import { waitFor } from "../../harness/index.js";

/**
 * The agent in-process with a source that never answers: it backs off, keeps serving status
 * over its socket, and obeys suspend/resume. Nothing here deploys.
 */
let dir: string;
let agent: Agent;
const logLines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString().split("\n").filter(Boolean)) logLines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  },
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-agent-loop-"));
  const config = parseAgentConfig({
    hostname: "loop1",
    stateDir: join(dir, "state"),
    controlSocket: join(dir, "run", "agent.sock"),
    trustedPublicKeys: ["fleet-1:5U2xWEanFJNHDeA0f4BvqSvVvc3KLMRVa2bJxPPz4Z8="],
    // Port 1 on loopback: connection refused, at once.
    manifest: { urls: ["http://127.0.0.1:1/channels/main.json"], pollInterval: 1, randomizedDelaySec: 0 },
    backoff: { initial: 1, max: 4 },
    exporter: { enable: false },
  });
  agent = new Agent({ config, version: "test", log: agentLogger("debug", sink), random: () => 0.5 });
  await agent.start();
});

afterAll(async () => {
  await agent?.stop();
  await rm(dir, { recursive: true, force: true });
});

const status = async () => ((await controlRequest(join(dir, "run", "agent.sock"), "status")) as { agent: AgentStatus }).agent;

describe("the agent with an unreachable source", () => {
  it("backs off (doubling up to the maximum) and keeps serving status with the cause", async () => {
    await waitFor(async () => logLines.filter((l) => l.event === "fetch-failed").length >= 4, 20_000, "four failed fetches");
    const waits = logLines.filter((l) => l.event === "fetch-failed").map((l) => l.retryInSeconds);
    expect(waits.slice(0, 4)).toEqual([1, 2, 4, 4]);
    const s = await status();
    expect(s.sources["manifest:main"]?.lastFetch).toMatchObject({ status: "error" });
    expect(s.sources["manifest:main"]?.lastFetch?.detail).toMatch(/^no manifest URL answered: http:\/\/127\.0\.0\.1:1\/channels\/main\.json: /);
    expect(s.desired).toBeUndefined();
    expect(logLines.find((l) => l.event === "fetch-failed")).toMatchObject({ level: 40, code: "source-unreachable" });
  });

  it("suspends and resumes over the socket, streaming both events", async () => {
    const seen: string[] = [];
    const stream = controlEvents(join(dir, "run", "agent.sock"));
    const reading = (async () => {
      for await (const e of stream) {
        seen.push((e as { type: string }).type);
        if (seen.includes("resumed")) break;
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    expect(await controlRequest(join(dir, "run", "agent.sock"), "suspend")).toEqual({ suspended: true });
    expect((await status()).suspended).toBe(true);
    expect(await agent.metrics.text()).toMatch(/^oscd_is_suspended 1$/m);
    expect(await controlRequest(join(dir, "run", "agent.sock"), "resume")).toEqual({ suspended: false });
    await reading;
    expect(seen).toEqual(expect.arrayContaining(["suspended", "resumed"]));
    expect((await status()).suspended).toBe(false);
  });

  it("refuses a second agent on the same socket", async () => {
    const second = new Agent({ config: agent.opts.config, version: "test", log: agentLogger("error", sink) });
    await expect(second.start()).rejects.toMatchObject({ code: "agent-running" });
  });

  it("stops promptly with an event stream connected, ending the stream", async () => {
    const stream = controlEvents(join(dir, "run", "agent.sock"));
    const drained = (async () => {
      for await (const _e of stream) {
        // Events until the agent closes the stream.
      }
      return "ended";
    })();
    await new Promise((r) => setTimeout(r, 100));
    await agent.stop();
    expect(await drained).toBe("ended");
  });
});
