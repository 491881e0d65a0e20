import { mkdir, readFile, writeFile } from "node:fs/promises";
import type { SimHost } from "./simhost.js";
import { clientKey } from "./sshd.js";

/**
 * A non-root login on a SimHost that may run anything through sudo with its password (as
 * on a host where root logins are off), reachable with the test key, and a nix-daemon so the
 * user's `nix-daemon --stdio` (ssh-ng copies) reaches the store as an untrusted client, which
 * accepts only paths signed by a key the host trusts. Home is under the host's own /etc.
 * `nopasswd`: sudo asks no password (NixOS `security.sudo.wheelNeedsPassword = false`).
 */
export async function addSudoUser(host: SimHost, user: string, password: string, opts: { nopasswd?: boolean } = {}): Promise<void> {
  const home = `/etc/home/${user}`;
  await host.sh(["useradd", "-M", "-d", home, "-s", "/bin/sh", user]);
  await host.sh(["chpasswd"], { input: `${user}:${password}\n` });
  await mkdir(host.path(`${home}/.ssh`), { recursive: true });
  await writeFile(host.path(`${home}/.ssh/authorized_keys`), await readFile((await clientKey()).publicKey, "utf8"));
  await host.sh(["chown", "-R", `${user}:${user}`, home]);
  await mkdir(host.path("/etc/sudoers.d"), { recursive: true });
  await writeFile(host.path(`/etc/sudoers.d/${user}`), `${user} ALL=(ALL:ALL) ${opts.nopasswd ? "NOPASSWD: " : ""}ALL\n`, { mode: 0o440 });
  await host.sh(["sh", "-c", "nohup nix-daemon > /run/nix-daemon.log 2>&1 &"]);
  for (let i = 0; i < 100; i++) {
    if ((await host.exec(["test", "-S", "/nix/var/nix/daemon-socket/socket"])).exitCode === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`harness: nix-daemon did not start on ${host.name}`);
}
