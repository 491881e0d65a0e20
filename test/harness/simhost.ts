import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile, chmod, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { run, type RunResult } from "../../src/core/exec.js";
import { claimNamespace, releaseNamespace, testNetwork, wireHost, type TestNetwork } from "./network.js";
import { withNewerNix } from "./nix-newer.js";
import { attempt, must } from "./sh.js";
import { clientKey, startSshd, type SshClientKey } from "./sshd.js";

/** Directories a SimHost has of its own; everything else is the machine's (read-mostly). */
const PRIVATE_DIRS = ["/nix", "/run", "/boot", "/etc", "/root", "/var/lib/oscd"] as const;

// The Node that runs the tests comes first: scripts/lib/setup.sh may have installed Node 24 outside
// the machine's default PATH, and oscd in a host must run on the same Node as on the deployer.
// With OSCD_TEST_NIX=newer the wrapper presenting a newer Nix comes before both (nix-newer.ts).
const HOST_PATH = withNewerNix(`${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`);

export interface SimHostOptions {
  name: string;
  machineId?: string;
  /** Written to the host's /etc/nix/nix.conf. */
  substituters?: string[];
  trustedPublicKeys?: string[];
  /** Start an sshd on the host's address that accepts the test key for root. */
  sshd?: boolean;
  /** A tmpfs of this many MiB as the host's /nix (a small disk: disk-space tests). */
  nixTmpfsMiB?: number;
  /** A tmpfs of this many MiB as the host's /boot. */
  bootTmpfsMiB?: number;
}

export interface ExecOptions {
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
  cwd?: string;
}

const KEEPER_SCRIPT = `
set -e
R="$1"; H="$2"
for d in ${PRIVATE_DIRS.join(" ")}; do mount --bind "$R$d" "$d"; done
hostname "$H"
echo ready
exec sleep infinity
`;

/**
 * A simulated NixOS machine: mount, UTS and PID namespaces over its own /nix, /run, /boot,
 * /etc, /root and /var/lib/oscd, plus a network namespace with an address on the test
 * bridge. The real nix-store, nix-env and switch-to-configuration run inside it against its
 * own store and profiles. Needs root.
 */
export class SimHost {
  private keeper: ChildProcess | undefined;
  private initPid = 0;
  private sshdOn = false;

  private constructor(
    readonly name: string,
    readonly root: string,
    readonly machineId: string,
    readonly netns: string,
    readonly address: string,
    readonly network: TestNetwork,
    private outsideLink: string | undefined,
  ) {}

  static async create(opts: SimHostOptions): Promise<SimHost> {
    if (process.getuid?.() !== 0) throw new Error("harness: SimHost needs root (namespaces, mounts, network)");
    const base = await mkdtemp(join(tmpdir(), `oscd-sim-${opts.name}-`));
    const root = join(base, "root");
    const machineId = opts.machineId ?? randomBytes(16).toString("hex");
    await layOut(root, opts, machineId);
    const net = await testNetwork();
    const { netns, index, address } = await claimNamespace(net);
    let host: SimHost | undefined;
    try {
      const outside = await wireHost(net, netns, index, address);
      host = new SimHost(opts.name, root, machineId, netns, address, net, outside);
      await writeFile(join(root, "etc/hosts"), `127.0.0.1 localhost\n${address} ${opts.name}\n`);
      await host.boot();
      if (opts.sshd) await host.enableSshd();
      return host;
    } catch (e) {
      if (host) await host.destroy();
      else await releaseNamespace(netns, undefined);
      throw e;
    }
  }

  /** Path on the test machine of a path inside the host. */
  path(p: string): string {
    if (!p.startsWith("/")) throw new Error(`harness: ${p} is not absolute`);
    return PRIVATE_DIRS.some((d) => p === d || p.startsWith(`${d}/`)) ? join(this.root, p) : p;
  }

  /** Runs a command inside the host with a clean environment (nothing of the test process leaks in). */
  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<RunResult> {
    if (!this.initPid) throw new Error(`harness: ${this.name} is not running`);
    const env = { PATH: HOST_PATH, HOME: "/root", LANG: "C.UTF-8", USER: "root", ...opts.env };
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const wd = opts.cwd ? [`--wd=${opts.cwd}`] : [];
    return run("nsenter", ["-t", String(this.initPid), "-m", "-u", "-p", "-n", ...wd, "--", "env", "-i", ...envArgs, ...argv], {
      timeoutMs: opts.timeoutMs ?? 120_000,
      input: opts.input,
      extendEnv: false,
      env: {},
    });
  }

  /** Like exec, but throws when the command fails. */
  async sh(argv: readonly string[], opts: ExecOptions = {}): Promise<RunResult> {
    const r = await this.exec(argv, opts);
    if (r.exitCode !== 0) throw new Error(`harness: on ${this.name}: ${argv.join(" ")} exited ${r.exitCode}: ${r.stderr.trim().slice(-2000)}`);
    return r;
  }

  async readLink(p: string): Promise<string | undefined> {
    try {
      return await readlink(this.path(p));
    } catch {
      return undefined;
    }
  }

  async currentSystem(): Promise<string | undefined> {
    return this.readLink("/run/current-system");
  }

  async bootedSystem(): Promise<string | undefined> {
    return this.readLink("/run/booted-system");
  }

  /** The toplevel of the default boot entry, or undefined when nothing was installed. */
  async defaultBootToplevel(): Promise<string | undefined> {
    try {
      const loader = await readFile(this.path("/boot/loader/loader.conf"), "utf8");
      const entry = /^default\s+(\S+)/m.exec(loader)?.[1];
      if (!entry) return undefined;
      const text = await readFile(this.path(`/boot/loader/entries/${entry}`), "utf8");
      return /^toplevel\s+(\S+)/m.exec(text)?.[1];
    } catch {
      return undefined;
    }
  }

  async bootEntries(): Promise<string[]> {
    try {
      return (await readdir(this.path("/boot/loader/entries"))).filter((e) => e.endsWith(".conf")).sort();
    } catch {
      return [];
    }
  }

  /** Lines `action toplevel` written by every switch-to-configuration run since boot. */
  async activations(): Promise<string[]> {
    try {
      return (await readFile(this.path("/run/fake-nixos/activations"), "utf8")).split("\n").filter(Boolean);
    } catch {
      return [];
    }
  }

  /**
   * Puts a toplevel into the host's store as an installer would (export from the test
   * machine's store, import here), sets the system profile, installs the boot loader and
   * reboots into it.
   */
  async install(toplevel: string): Promise<void> {
    await this.importFromMachine([toplevel]);
    await this.sh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--set", toplevel]);
    await this.sh([`${toplevel}/bin/switch-to-configuration`, "boot"]);
    await this.reboot();
  }

  /** Copies closures from the test machine's store into this host's store, unsigned, as root may. */
  async importFromMachine(paths: readonly string[]): Promise<void> {
    const requisites = (await must("nix-store", ["--query", "--requisites", ...paths])).stdout.split("\n").filter(Boolean);
    const dump = join(this.root, "..", `export-${Date.now()}.nar`);
    const exp = await run("sh", ["-c", 'nix-store --export "$@" > "$0"', dump, ...requisites], { timeoutMs: 300_000 });
    if (exp.exitCode !== 0) throw new Error(`harness: nix-store --export failed: ${exp.stderr}`);
    await this.sh(["sh", "-c", 'nix-store --import < "$0" > /dev/null', dump], { timeoutMs: 300_000 });
    await rm(dump, { force: true });
  }

  /**
   * Ends every process of the host, empties /run and boots the default boot entry: sets
   * /run/booted-system and /run/current-system to its toplevel, as stage 2 of NixOS does.
   */
  async reboot(): Promise<void> {
    await this.halt();
    await this.boot();
    if (this.sshdOn) await startSshd(this);
  }

  async enableSshd(): Promise<void> {
    this.sshdOn = true;
    await startSshd(this);
  }

  /** The SSH target and options the test process uses to reach this host's sshd. */
  async ssh(): Promise<{ target: string; key: SshClientKey; args: string[] }> {
    if (!this.sshdOn) throw new Error(`harness: ${this.name} has no sshd; create it with { sshd: true }`);
    const key = await clientKey();
    return {
      target: `root@${this.address}`,
      key,
      args: ["-i", key.privateKey, "-o", `UserKnownHostsFile=${key.knownHosts}`, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"],
    };
  }

  private async boot(): Promise<void> {
    const runDir = this.path("/run");
    await rm(runDir, { recursive: true, force: true });
    await mkdir(runDir, { recursive: true });
    const booted = await this.defaultBootToplevel();
    if (booted) {
      await symlink(booted, join(runDir, "booted-system"));
      await symlink(booted, join(runDir, "current-system"));
    }
    await this.startKeeper();
  }

  private async startKeeper(): Promise<void> {
    for (const d of PRIVATE_DIRS) await mkdir(d, { recursive: true });
    // pdeathsig and --kill-child: if the test process dies, the host's processes die with it.
    const child = spawn(
      "setpriv",
      ["--pdeathsig", "KILL", "--", "ip", "netns", "exec", this.netns, "unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private", "/bin/sh", "-c", KEEPER_SCRIPT, "sh", this.root, this.name],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.keeper = child;
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`harness: ${this.name} did not start: ${stderr}`)), 20_000);
      child.stdout?.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`harness: ${this.name} keeper exited ${code}: ${stderr.trim()}`));
      });
    });
    const children = (await readFile(`/proc/${child.pid}/task/${child.pid}/children`, "utf8")).trim().split(/\s+/);
    this.initPid = Number(children[0]);
    if (!this.initPid) throw new Error(`harness: cannot find the init process of ${this.name}`);
  }

  private async halt(): Promise<void> {
    const keeper = this.keeper;
    if (!keeper || keeper.exitCode !== null) {
      this.initPid = 0;
      return;
    }
    const exited = new Promise<void>((resolve) => keeper.once("exit", () => resolve()));
    // Killing the PID namespace's init ends every process in the host.
    if (this.initPid) await attempt("kill", ["-KILL", String(this.initPid)]);
    keeper.kill("SIGKILL");
    await exited;
    this.initPid = 0;
    this.keeper = undefined;
  }

  /** Stops the host and removes everything it had. Safe to call twice. */
  async destroy(): Promise<void> {
    await this.halt();
    await releaseNamespace(this.netns, this.outsideLink);
    this.outsideLink = undefined;
    // Small disks of their own (nixTmpfsMiB, bootTmpfsMiB) go before the files under them.
    for (const d of ["nix", "boot"]) await attempt("umount", ["-l", join(this.root, d)]);
    await rm(join(this.root, ".."), { recursive: true, force: true });
  }
}

async function layOut(root: string, opts: SimHostOptions, machineId: string): Promise<void> {
  for (const [dir, mib] of [["nix", opts.nixTmpfsMiB], ["boot", opts.bootTmpfsMiB]] as const) {
    if (mib === undefined) continue;
    await mkdir(join(root, dir), { recursive: true });
    await must("mount", ["-t", "tmpfs", "-o", `size=${mib}m,mode=0755`, `oscd-sim-${dir}`, join(root, dir)]);
  }
  for (const d of ["nix/store", "nix/var/nix/profiles", "nix/var/nix/gcroots", "run", "boot", "root/.ssh", "var/lib/oscd"]) {
    await mkdir(join(root, d), { recursive: true });
  }
  await chmod(join(root, "nix/store"), 0o1775);
  await cp("/etc", join(root, "etc"), { recursive: true, verbatimSymlinks: true, errorOnExist: false, force: true });
  await writeFile(join(root, "etc/hostname"), `${opts.name}\n`);
  await writeFile(join(root, "etc/machine-id"), `${machineId}\n`);
  await mkdir(join(root, "etc/nix"), { recursive: true });
  await writeFile(join(root, "etc/nix/nix.conf"), nixConf(opts));
}

export function nixConf(opts: Pick<SimHostOptions, "substituters" | "trustedPublicKeys">): string {
  return [
    "# written by the oscd test harness",
    "sandbox = false",
    // The host's /etc is a copy of the test machine's, which may have no nixbld group.
    "build-users-group =",
    "require-sigs = true",
    `substituters = ${(opts.substituters ?? []).join(" ")}`,
    `trusted-public-keys = ${(opts.trustedPublicKeys ?? []).join(" ")}`,
    "narinfo-cache-negative-ttl = 0",
    "experimental-features = nix-command flakes",
    "",
  ].join("\n");
}
