import { readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkHealth } from "../../../src/activate/index.js";
import { healthSchema } from "../../../src/fleet/index.js";

let server: Server;
let base: string;
let hits = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === "/ok") res.end("all good");
    else if (req.url === "/flaky") {
      res.statusCode = hits % 3 === 0 ? 200 : 503;
      res.end("warming up");
    } else {
      res.statusCode = 500;
      res.end("broken");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const cfg = (over: object) => healthSchema.parse({ systemdUnits: false, retries: 0, retryDelaySeconds: 0, timeoutSeconds: 5, ...over });

describe("health checks", () => {
  it("passes commands that exit 0 and HTTP probes with the expected status and body", async () => {
    const r = await checkHealth(cfg({ commands: [["true"], ["test", "1", "=", "1"]], http: [{ url: `${base}/ok`, contains: "good" }] }));
    expect(r).toEqual({ ok: true, attempts: 1, failures: [] });
  });

  it("names each failing check", async () => {
    const r = await checkHealth(cfg({ commands: [["false"]], http: [{ url: `${base}/bad` }, { url: `${base}/ok`, contains: "nope" }, { url: "http://127.0.0.1:1/" }] }));
    expect(r.ok).toBe(false);
    expect(r.failures[0]).toBe("command false exited 1");
    expect(r.failures[1]).toBe(`GET ${base}/bad answered 500, expected 200`);
    expect(r.failures[2]).toBe(`GET ${base}/ok does not contain "nope"`);
    expect(r.failures[3]).toMatch(/^GET http:\/\/127.0.0.1:1\/: /);
  });

  it("retries the whole set until it passes or the retries are used up", async () => {
    hits = 0;
    const seen: number[] = [];
    const r = await checkHealth(cfg({ retries: 4, http: [{ url: `${base}/flaky` }] }), (n) => seen.push(n));
    expect(r).toMatchObject({ ok: true, attempts: 3 });
    expect(seen).toEqual([1, 2, 3]);
    const never = await checkHealth(cfg({ retries: 2, commands: [["false"]] }));
    expect(never).toMatchObject({ ok: false, attempts: 3 });
  });

  it("stops a command that hangs at the check's timeout", async () => {
    const r = await checkHealth(cfg({ timeoutSeconds: 1, commands: [["sleep", "30"]] }));
    expect(r.ok).toBe(false);
    expect(r.failures[0]).toMatch(/did not finish within 1s/);
  });
});

describe("health command timeouts", () => {
  it(
    "a health command whose shell started a long sleep fails at its timeout, and the sleep is ended",
    async () => {
      const pidFile = `/tmp/oscd-health-timeout-${process.pid}`;
      const r = await checkHealth(cfg({ timeoutSeconds: 1, commands: [["sh", "-c", `sleep 30 & echo $! > ${pidFile}; wait`]] }));
      expect(r.ok).toBe(false);
      expect(r.failures[0]).toMatch(/did not finish within 1s and was stopped/);
      const pid = Number((await readFile(pidFile, "utf8")).trim());
      await rm(pidFile, { force: true });
      const gone = async () => {
        for (let i = 0; i < 100; i++) {
          try {
            process.kill(pid, 0);
          } catch {
            return true;
          }
          await new Promise((res) => setTimeout(res, 50));
        }
        return false;
      };
      expect(await gone()).toBe(true);
    },
    10_000,
  );
});
