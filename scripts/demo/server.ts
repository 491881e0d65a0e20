import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OSCD_BIN } from "../../test/harness/index.js";
import { oscd, StepFailed } from "./story.js";

/**
 * `oscd server` as a child of the demo: SQLite database and binary cache in `dir`, listening on
 * the test bridge so the simulated hosts reach it. Its log goes to `dir/server.log` (shown
 * only when something fails). Tokens are made with `oscd server token create` on its database:
 * an admin's (printed for the dashboard) and an operator's, which the story publishes and rolls
 * out with through the command line.
 */
export class DemoServer {
  private constructor(
    readonly dir: string,
    readonly url: string,
    readonly adminTokenFile: string,
    readonly operatorTokenFile: string,
    private readonly child: ChildProcess,
  ) {}

  get db(): string {
    return `sqlite:${join(this.dir, "server.db")}`;
  }

  get cacheDir(): string {
    return join(this.dir, "cache");
  }

  static async start(dir: string, listenAddress: string, trustedKey: string): Promise<DemoServer> {
    const db = `sqlite:${join(dir, "server.db")}`;
    const adminJson = await oscd(["server", "token", "create", "--admin", "--create-db", "--db", db, "--json"]);
    const admin = (JSON.parse(adminJson.stdout) as { token: string }).token;
    const adminTokenFile = join(dir, "admin.token");
    await writeFile(adminTokenFile, admin + "\n", { mode: 0o600 });
    const operator = (await oscd(["server", "token", "create", "--role", "operator", "--label", "demo", "--db", db])).stdout.trim();
    const operatorTokenFile = join(dir, "operator.token");
    await writeFile(operatorTokenFile, operator + "\n", { mode: 0o600 });
    const logFile = join(dir, "server.log");
    const log = createWriteStream(logFile);
    const child = spawn(process.execPath, [OSCD_BIN, "server", "--db", db, "--listen", `${listenAddress}:0`, "--trusted-key", trustedKey, "--cache-dir", join(dir, "cache")], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.pipe(log);
    const url = await new Promise<string>((resolve, reject) => {
      let seen = "";
      const timer = setTimeout(() => reject(new StepFailed("oscd server did not start within 30 s", seen)), 30_000);
      child.stderr?.on("data", (d: Buffer) => {
        log.write(d);
        seen += d.toString();
        const m = /listening on (http\S+)/.exec(seen);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new StepFailed(`oscd server exited ${code}`, seen));
      });
    });
    return new DemoServer(dir, url, adminTokenFile, operatorTokenFile, child);
  }

  async hostToken(host: string): Promise<string> {
    return (await oscd(["server", "token", "create", "--host", host, "--channel", "main", "--db", this.db])).stdout.trim();
  }

  /** `--server URL --server-token-file <operator token>`, for `oscd rollout`, `oscd publish`, `oscd status`. */
  get cliArgs(): string[] {
    return ["--server", this.url, "--server-token-file", this.operatorTokenFile];
  }

  async log(): Promise<string> {
    return readFile(join(this.dir, "server.log"), "utf8").catch(() => "");
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}

export interface Rollout {
  id: string;
  state: string;
  reason: string | null;
  waves: { name: string; state: string; hosts: string[] }[];
}
