import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NEWER_NIX, withNewerNix } from "./nix-newer.js";
import { must } from "./sh.js";
import type { SimHost } from "./simhost.js";
import { pathExists } from "../../src/core/fs.js";

export interface SshClientKey {
  privateKey: string;
  publicKey: string;
  knownHosts: string;
}

let keyPromise: Promise<SshClientKey> | undefined;

/** The test process's own SSH key, made once per process; hosts trust it for root. */
export function clientKey(): Promise<SshClientKey> {
  keyPromise ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "oscd-ssh-"));
    const privateKey = join(dir, "id_ed25519");
    await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "oscd-tests", "-f", privateKey]);
    const knownHosts = join(dir, "known_hosts");
    await writeFile(knownHosts, "");
    return { privateKey, publicKey: `${privateKey}.pub`, knownHosts };
  })();
  return keyPromise;
}

const SSHD_CONFIG = (address: string) => `# oscd test harness
Port 22
ListenAddress ${address}
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile /run/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
Subsystem sftp internal-sftp
${NEWER_NIX ? `SetEnv PATH=${withNewerNix("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")}\n` : ""}`;

/** Starts sshd inside the host on its address, with a host key recorded in the client's known_hosts. */
export async function startSshd(host: SimHost): Promise<void> {
  const key = await clientKey();
  const hostKey = host.path("/etc/ssh/ssh_host_ed25519_key");
  await mkdir(host.path("/etc/ssh"), { recursive: true });
  // Each host has its own host key (the copied /etc had the machine's), known to the client.
  const marker = host.path("/etc/ssh/.oscd-sim-hostkey");
  if (!(await pathExists(marker))) {
    await rm(hostKey, { force: true });
    await rm(`${hostKey}.pub`, { force: true });
    await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `root@${host.name}`, "-f", hostKey]);
    await writeFile(marker, "");
  }
  const pub = (await readFile(`${hostKey}.pub`, "utf8")).trim().split(" ").slice(0, 2).join(" ");
  const known = await readFile(key.knownHosts, "utf8");
  const line = `${host.address} ${pub}`;
  if (!known.includes(line)) {
    // An address reused by a later host gets that host's key.
    const kept = known.split("\n").filter((l) => l && !l.startsWith(`${host.address} `));
    await writeFile(key.knownHosts, [...kept, line, ""].join("\n"));
  }
  await writeFile(host.path("/etc/ssh/sshd_config_oscd_sim"), SSHD_CONFIG(host.address));
  await mkdir(host.path("/root/.ssh"), { recursive: true, mode: 0o700 });
  await writeFile(host.path("/root/.ssh/authorized_keys"), await readFile(key.publicKey, "utf8"), { mode: 0o600 });
  await host.sh(["mkdir", "-p", "/run/sshd"]);
  // Its log (logins included) in /run/sshd.log, so tests can count the connections a deploy makes.
  await host.sh(["/usr/sbin/sshd", "-f", "/etc/ssh/sshd_config_oscd_sim", "-E", "/run/sshd.log"]);
  await waitForPort(host.address, 22, 10_000);
}


async function waitForPort(address: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: address, port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`harness: nothing listens on ${address}:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
