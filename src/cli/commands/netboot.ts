import type { Command } from "commander";
import { readFile } from "node:fs/promises";
import { OscdError, UsageError } from "../../core/errors.js";
import { loadFleet, netbootMacs } from "../../fleet/index.js";
import { writeNetbootStatic } from "../../image/index.js";
import { formatPublicKey, parsePublicKey, readPublicKeyFile, type PublicKey } from "../../nix/index.js";
import { printJson } from "../output.js";
import { warn } from "../progress.js";

interface NetbootFlags {
  manifest: string;
  out: string;
  baseUrl: string;
  trustedKey?: string[];
  repo?: string;
  on?: string;
  substituter?: string[];
  allowNoExpiry?: boolean;
  json?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

async function keyArg(v: string): Promise<PublicKey> {
  if (/^[A-Za-z0-9._+-]+:[A-Za-z0-9+/]+={0,2}$/.test(v)) return parsePublicKey(v);
  return readPublicKeyFile(v);
}

async function manifestText(where: string): Promise<string> {
  if (/^https?:\/\//.test(where)) {
    const res = await fetch(where, { signal: AbortSignal.timeout(30_000) }).catch((e: unknown) => {
      throw new OscdError("manifest-unreachable", `cannot fetch ${where}: ${e instanceof Error ? e.message : String(e)}`, { hint: "check the URL and that the server is up" });
    });
    if (res.status !== 200) throw new OscdError("manifest-unreachable", `${where} answered ${res.status}`, { hint: "manifests live at <cache>/channels/<channel>.json" });
    return res.text();
  }
  const path = where.startsWith("file://") ? where.slice("file://".length) : where;
  return readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new OscdError("manifest-missing", `cannot read ${path}: ${e.code ?? String(e)}`, { exitCode: 2, hint: "oscd publish writes <cache>/channels/<channel>.json" });
  });
}

export function registerNetboot(program: Command): void {
  program
    .command("netboot")
    .description("write each host's verified netboot files (kernel, initrd, iPXE script) from a signed manifest as static files for any web server")
    .requiredOption("--manifest <file-or-url>", "the channel's signed manifest (a path or an http(s) URL)")
    .requiredOption("-o, --out <dir>", "the directory to write (served by a web server at --base-url)")
    .requiredOption("--base-url <url>", "the URL the directory is served at, e.g. http://boot.example.org/netboot")
    .option("--trusted-key <key>", "a trusted public key, name:base64 or a file (repeatable; default: --repo's keys.trusted)", collect)
    .option("-C, --repo <dir>", "the fleet repository: its keys.trusted, and hosts.<name>.netboot.mac for by-mac/<mac>/boot.ipxe")
    .option("--on <hosts>", "only these hosts, comma-separated (each must have netboot files)")
    .option("--substituter <url>", "a cache to fetch a missing kernel or initrd from, signatures checked (repeatable)", collect)
    .option("--allow-no-expiry", "accept a manifest without expiresAt (published before expiry existed)")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  oscd netboot --manifest /srv/nix-cache/channels/main.json -C . -o /srv/www/netboot --base-url http://boot.example.org/netboot
  oscd netboot --manifest https://cache.example.org/channels/main.json --trusted-key fleet-1.public --on pxe1,pxe2 -o /srv/www/nb --base-url http://10.0.0.1/nb

Writes <dir>/<host>/<system hash>/{kernel,initrd} and <dir>/<host>/boot.ipxe (written last),
and with MAC addresses in oscd.toml <dir>/by-mac/<mac>/boot.ipxe plus <dir>/boot.ipxe, which
chains to the machine's own script by \${net0/mac}. Every file is checked against the sha256
the manifest signed before it is written; the manifest must verify and not be expired.
For per-host tokens (no static files) use oscd server: /netboot/token/<token>/boot.ipxe.`,
    )
    .action(async (o: NetbootFlags) => {
      const fleet = o.repo ? await loadFleet(o.repo) : undefined;
      const keys = o.trustedKey && o.trustedKey.length > 0 ? await Promise.all(o.trustedKey.map(keyArg)) : (fleet?.config.keys.trusted ?? []).map((k) => parsePublicKey(k));
      if (keys.length === 0) throw new UsageError("no trusted key to verify the manifest with", "pass --trusted-key KEY or -C DIR whose oscd.toml lists keys.trusted", "netboot-no-keys");
      const r = await writeNetbootStatic({
        manifestText: await manifestText(o.manifest),
        where: o.manifest,
        trusted: keys,
        outDir: o.out,
        baseUrl: o.baseUrl,
        hosts: o.on ? o.on.split(",").map((h) => h.trim()).filter(Boolean) : undefined,
        macs: fleet ? netbootMacs(fleet.config) : undefined,
        allowNoExpiry: o.allowNoExpiry,
        substituters: o.substituter,
        trustedPublicKeys: o.substituter ? keys.map(formatPublicKey) : undefined,
      });
      if (o.json) printJson(r);
      else {
        for (const h of r.hosts) process.stdout.write(`${h.name}: ${h.script} (system ${h.toplevel}${h.macs.length ? `, MAC ${h.macs.join(", ")}` : ""})\n`);
        for (const s of r.skipped) warn(`skipped: ${s.reason}`, s.name);
        process.stdout.write(`channel ${r.channel} sequence ${r.sequence}: netboot files of ${r.hosts.length} host(s) written to ${o.out}\n`);
      }
    });
}
