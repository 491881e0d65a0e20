import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { sriSha256, verifyManifest, type Manifest } from "../../src/manifest/index.js";
import { parsePublicKey } from "../../src/nix/index.js";
import type { SimHost } from "../../test/harness/index.js";
import { heading, hostLine, note, shortPath, StepFailed } from "./story.js";
import type { World } from "./world.js";

/** The host that boots from the network in the story. */
export const NETBOOT_HOST = "web1";
/** Where, inside that host, the fetched files are kept (the demo's test compares them with the store). */
export const NETBOOT_DIR = "/root/netboot";

export interface NetbootClaim {
  host: string;
  sequence: number;
  toplevel: string;
  /** Paths inside the host: the script, kernel and initrd it fetched, and the forged token's answer. */
  files: { script: string; kernel: string; initrd: string; refused: string };
  refusedStatus: number;
}

/** A GET from inside a simulated host with its curl: the HTTP status, the body kept at `out` in the host. */
async function fetchOn(h: SimHost, url: string, out: string): Promise<{ status: number; body: Buffer }> {
  const r = await h.exec(["curl", "-sS", "--max-time", "30", "-o", out, "-w", "%{http_code}", url]);
  if (r.exitCode !== 0) throw new StepFailed(`curl on ${h.name} could not reach the server`, r.stdout + r.stderr);
  return { status: Number(r.stdout.trim()), body: await readFile(h.path(out)).catch(() => Buffer.alloc(0)) };
}

/**
 * What a machine booting with iPXE does, from inside a simulated host: its script by its token,
 * then the kernel and initrd the script names, each checked against the signed manifest's
 * netboot entry (size and SHA-256); then a forged token (the host's token id, another secret)
 * must get a 403 and none of the files. The release was published with `oscd publish --netboot`.
 */
export async function netboot(w: World, m: Manifest, tag: string): Promise<NetbootClaim> {
  heading(`Netboot: ${NETBOOT_HOST} fetches ${tag}'s iPXE script, kernel and initrd from the server by its token`);
  verifyManifest(m, [parsePublicKey(w.publicKey)], `the manifest of ${tag}`);
  const entry = m.hosts[NETBOOT_HOST];
  const nb = entry?.netboot;
  if (!entry || !nb) throw new StepFailed(`the manifest of ${tag} has no netboot files for ${NETBOOT_HOST}: was it published with --netboot?`);
  note(`oscd publish --netboot recorded each host's kernel, initrd and parameters in its signed entry (${NETBOOT_HOST}: ${shortPath(nb.kernel.path)}, ${shortPath(nb.initrd.path)})`);
  const h = w.hosts.get(NETBOOT_HOST) as SimHost;
  const mk = await h.exec(["mkdir", "-p", NETBOOT_DIR]);
  if (mk.exitCode !== 0) throw new StepFailed(`mkdir ${NETBOOT_DIR} on ${NETBOOT_HOST} exited ${mk.exitCode}`, mk.stderr);
  const token = (await readFile(h.path("/root/server-token"), "utf8")).trim();
  const files = { script: `${NETBOOT_DIR}/boot.ipxe`, kernel: `${NETBOOT_DIR}/kernel`, initrd: `${NETBOOT_DIR}/initrd`, refused: `${NETBOOT_DIR}/forged-token.json` };

  const s = await fetchOn(h, `${w.server.url}/netboot/token/${token}/boot.ipxe`, files.script);
  const script = s.body.toString();
  const kernelUrl = /^kernel (\S+) /m.exec(script)?.[1];
  const initrdUrl = /^initrd --name initrd (\S+)$/m.exec(script)?.[1];
  if (s.status !== 200 || !kernelUrl || !initrdUrl || !script.includes(`init=${entry.toplevel}/init`)) throw new StepFailed(`the server answered ${NETBOOT_HOST}'s boot.ipxe with ${s.status}, not a script booting ${tag}`, script);
  // Never print the token: the URLs in the story show where it goes, not what it is.
  hostLine(NETBOOT_HOST, `GET /netboot/token/<its token>/boot.ipxe → ${s.status}, ${s.body.length} bytes: kernel, initrd, init=${tag}'s system`);
  for (const [part, url] of [
    ["kernel", kernelUrl],
    ["initrd", initrdUrl],
  ] as const) {
    const r = await fetchOn(h, url, files[part]);
    const signed = nb[part];
    const hash = sriSha256(createHash("sha256").update(r.body).digest());
    if (r.status !== 200 || r.body.length !== signed.size || hash !== signed.hash) throw new StepFailed(`${NETBOOT_HOST}'s ${part} from the server (${r.status}, ${r.body.length} bytes) is not the signed one (${signed.size} bytes, ${signed.hash})`);
    hostLine(NETBOOT_HOST, `GET …/${part} → ${r.status}, ${r.body.length} bytes, sha256 matches the signed manifest`);
  }

  const forged = (/^oscd_[0-9a-f]{16}_/.exec(token)?.[0] ?? "oscd_0000000000000000_") + randomBytes(32).toString("base64url").slice(0, 43);
  const bad = await fetchOn(h, `${w.server.url}/netboot/token/${forged}/kernel`, files.refused);
  const code = (() => {
    try {
      return (JSON.parse(bad.body.toString()) as { error?: { code?: string } }).error?.code;
    } catch {
      return undefined;
    }
  })();
  if (bad.status !== 403 || code !== "netboot-bad-token") throw new StepFailed(`a forged token got ${bad.status} from the netboot kernel route, not 403 netboot-bad-token`, bad.body.toString());
  hostLine(NETBOOT_HOST, `GET /netboot/token/<forged token>/kernel → 403 ${code}: no file, no host named`);
  return { host: NETBOOT_HOST, sequence: m.sequence, toplevel: entry.toplevel, files, refusedStatus: bad.status };
}
