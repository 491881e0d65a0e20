import { registerSecret } from "../../core/command-log.js";
import { InvalidArgumentError, type Command } from "commander";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { UsageError } from "../../core/errors.js";
import { loadFleet, netbootMacs } from "../../fleet/index.js";
import { parsePublicKey, readPublicKeyFile, type PublicKey } from "../../nix/index.js";
import { cliJobRunner, createToken, listTokens, loadServerTrust, localWho, openDatabase, recorder, requireExistingDatabase, revokeToken, startServer, MAX_WAIT_SECONDS } from "../../server/index.js";
import { positiveInt } from "../build-options.js";
import { printJson, printTable } from "../output.js";
import { parseDuration } from "../gc-options.js";
import { progressSay, warn } from "../progress.js";
import { registerServerData } from "./server-data.js";

const DEFAULT_DB = "sqlite:/var/lib/oscd/server.db";

async function keyArg(v: string): Promise<PublicKey> {
  if (/^[A-Za-z0-9._+-]+:[A-Za-z0-9+/]+={0,2}$/.test(v)) return parsePublicKey(v);
  return readPublicKeyFile(v);
}

async function trustedKeys(o: { trustedKey?: string[]; repo?: string; trustDir?: string }): Promise<PublicKey[]> {
  const keys = await Promise.all((o.trustedKey ?? []).map(keyArg));
  if (o.repo) keys.push(...(await loadFleet(o.repo)).config.keys.trusted.map((k) => parsePublicKey(k)));
  if (o.trustDir) {
    // Checked at start: a trust directory without a valid root would refuse every upload.
    const root = (await loadServerTrust(o.trustDir)).root;
    for (const k of [...Object.values(root.channels).flatMap((c) => c.keys.map((e) => e.key)), ...root.cacheKeys].map((t) => parsePublicKey(t))) if (!keys.some((x) => x.key.equals(k.key))) keys.push(k);
  }
  if (keys.length === 0) {
    throw new UsageError("the server has no trusted keys to verify releases with", "pass --trusted-key KEY (name:base64 or a .public file), -C DIR whose oscd.toml lists keys.trusted, or --trust-dir DIR", "server-no-keys");
  }
  return keys;
}

interface ServeFlags {
  db: string;
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  trustedKey?: string[];
  repo?: string;
  trustDir?: string;
  webhookSecretFile?: string;
  jobsRepo?: string;
  cacheDir?: string;
  netbootSubstituter?: string[];
  jobsChannel: string;
  releaseJobsImmediately?: boolean;
  retainReports?: string;
  metricsTokenFile?: string;
  longPollSeconds: string;
  json?: boolean;
}

/** The token in `--metrics-token-file`: one word of printable characters, 16 or more. */
function longPollSeconds(raw: string): number {
  const n = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_WAIT_SECONDS)) throw new UsageError(`--long-poll-seconds ${JSON.stringify(raw.slice(0, 20))} is not a whole number of seconds from 1 to ${MAX_WAIT_SECONDS}`, "e.g. --long-poll-seconds 240; keep it under the idle timeout of any proxy in front of the server", "bad-long-poll");
  return n;
}

async function metricsToken(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return undefined;
  const text = await readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read the metrics token file ${file}: ${e.code ?? e.message}`, "give a file holding the token (e.g. openssl rand -hex 32 > /var/lib/oscd/metrics-token)", "server-metrics-token");
  });
  const token = text.trim();
  if (!/^[\x21-\x7e]{16,512}$/.test(token)) throw new UsageError(`the metrics token file ${file} does not hold one token of 16 or more printable characters`, "e.g. openssl rand -hex 32 > FILE", "server-metrics-token");
  return token;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerServer(program: Command): void {
  const server = program
    .command("server")
    .description("the control server: fleet state, signed releases, staged rollouts, webhooks, a live dashboard and metrics (SQLite or PostgreSQL)")
    .option("--db <spec>", "sqlite:PATH or postgres://user@host/db", DEFAULT_DB)
    .option("--listen <addr>", "address and port to listen on", "127.0.0.1:8420")
    .option("--tls-cert <file>", "serve HTTPS with this certificate (PEM); or put the server behind a TLS proxy")
    .option("--tls-key <file>", "the certificate's private key (PEM)")
    .option("--trusted-key <key>", "a public key releases must be signed with (name:base64 or a file); repeatable", collect)
    .option("-C, --repo <dir>", "take the trusted keys (and netboot MAC addresses) from this fleet repository's oscd.toml")
    .option("--trust-dir <dir>", "the channels' trust directory (oscd trust publish --to DIR): releases are accepted only at their channel's release threshold and when not revoked, and agents read it beside their manifest")
    .option("--webhook-secret-file <file>", "turn on GitHub webhooks (/api/v1/webhooks/github), verified with this secret")
    .option("--jobs-repo <dir>", "run webhook jobs (oscd release from-event, oscd publish) in this fleet repository clone; the signing key comes from the environment")
    .option("--jobs-channel <name>", "the channel webhook publish jobs write", "main")
    .option("--release-jobs-immediately", "serve a manifest published by a webhook job to every host at once (default: it waits for a rollout)")
    .option("--cache-dir <dir>", "also be the fleet's binary cache: serve this directory under /cache/ (any token) and accept `nix copy --to` uploads (admin token)")
    .option("--netboot-substituter <url>", "a cache to fetch a netboot kernel or initrd from when this machine lacks it (default: --cache-dir); repeatable", collect)
    .option("--retain-reports <duration>", "prune reports older than this (e.g. 90d), keeping each host's last report and every state change")
    .option("--metrics-token-file <file>", "/metrics needs `Authorization: Bearer <token>` with the token in this file (default: open, like /healthz)")
    .option("--long-poll-seconds <n>", "how long agents that leave it to the server hold each long-poll (1-300); longer is cheaper for a large fleet, but must stay under any proxy's idle timeout", "55")
    .option("--json", "log as JSON lines")
    .addHelpText(
      "after",
      `
Examples:
  oscd server -C . --db sqlite:/var/lib/oscd/server.db
  oscd server --trusted-key fleet-1.public --db postgres://oscd@db/oscd --listen 0.0.0.0:8420 --tls-cert server.crt --tls-key server.key
  oscd server --trust-dir /srv/oscd/trust --db sqlite:/var/lib/oscd/server.db
  oscd server -C . --metrics-token-file /var/lib/oscd/metrics-token   # /metrics needs that bearer token
  oscd server -C . --long-poll-seconds 240           # 10,000 agents, no proxy with a shorter idle timeout in between
  oscd server token create --role admin              # shown once; keep it
  oscd server token create --role operator --label ci # releases and rollouts (CI, on-call)
  oscd server token create --role viewer --label wall # the dashboard on a wall screen: sees everything, changes nothing
  oscd server token create --host web1 --tag web --channel main

Every endpoint but /healthz and /metrics needs a token; the dashboard is at the server's root.
/metrics takes a token of its own with --metrics-token-file (for a Prometheus bearer_token_file).
Netboot (docs/netboot.md): iPXE fetches /netboot/token/<host token>/boot.ipxe, or with -C DIR
and hosts.<name>.netboot.mac, /netboot/mac/<mac>/boot.ipxe; kernel and initrd are checked
against the signed manifest before they are served.`,
    )
    .action(async (o: ServeFlags) => {
      if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) throw new UsageError("--tls-cert and --tls-key go together", "give both, or neither (and a TLS proxy in front)", "server-tls");
      const trusted = await trustedKeys(o);
      const webhookSecret = o.webhookSecretFile ? (await readFile(o.webhookSecretFile, "utf8")).trim() : undefined;
      registerSecret(webhookSecret);
      if (webhookSecret !== undefined && webhookSecret.length < 16) throw new UsageError("the webhook secret is shorter than 16 characters", "use a long random secret (e.g. openssl rand -hex 32)", "server-webhook-secret");
      const metricsBearer = await metricsToken(o.metricsTokenFile);
      const s = await startServer({
        db: o.db,
        listen: o.listen,
        trusted,
        trustDir: o.trustDir,
        tls: o.tlsCert && o.tlsKey ? { certFile: o.tlsCert, keyFile: o.tlsKey } : undefined,
        logger: o.json ? { level: "info" } : false,
        webhookSecret,
        cacheDir: o.cacheDir,
        netboot: { macs: o.repo ? netbootMacs((await loadFleet(o.repo)).config) : undefined, substituters: o.netbootSubstituter },
        jobRunner: o.jobsRepo ? cliJobRunner({ oscd: [process.execPath, process.argv[1] as string], repo: o.jobsRepo, channel: o.jobsChannel }) : undefined,
        releaseJobsImmediately: o.releaseJobsImmediately,
        retainReportsMs: o.retainReports !== undefined ? parseDuration(o.retainReports, "--retain-reports") : undefined,
        metricsToken: metricsBearer,
        longPollSeconds: longPollSeconds(o.longPollSeconds),
      });
      if (!o.json) progressSay()("server", "listen", `listening on ${s.url} (${s.database.dialect}); trusted keys: ${trusted.map((k) => k.name).join(", ")}`);
      // Each agent holds a connection: Node raises its soft limit to the hard one, so the hard
      // limit (systemd's LimitNOFILE=) caps the fleet one process can hold.
      const files = openFilesLimit();
      if (files !== undefined && files < 16_384) warn(`this process may open ${files} files: about that many agents can hold a connection at once; raise the limit (LimitNOFILE=65536 in the server's unit, docs/operations.md)`);
      const stop = () => {
        void s.close().then(() => process.exit(0));
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });

  registerServerData(server);

  // `--db` and `--json` of `server` apply to these too (`oscd server token list --db …`).
  const token = server.command("token").description("make, list and revoke API tokens with their roles (works on the database given by --db directly)");
  token
    .command("create")
    .description("make a token; it is printed once and only its hash is stored")
    .option("--role <role>", "admin (everything), operator (releases and rollouts), viewer (reads everything, changes nothing) or host (with --host)", (v: string) => {
      if (!["admin", "operator", "viewer", "host"].includes(v)) throw new InvalidArgumentError("a role is admin, operator, viewer or host");
      return v;
    })
    .option("--admin", "the same as --role admin")
    .option("--host <name>", "a host token (reads and reports for this host only)")
    .option("--tag <tag>", "the host's tags, for rollout waves and filters; repeatable", collect)
    .option("--channel <name>", "the host's channel")
    .option("--label <text>", "a note shown by `token list`")
    .option("--create-db", "make the database when it does not exist (a first admin token before the server's first start); without it a missing database is refused")
    .addHelpText("after", "\nExamples:\n  oscd server token create --role operator --label ci > /run/secrets/oscd-operator\n  oscd server token create --host web1 --tag web --channel main\n  oscd server token create --admin --create-db --db sqlite:/var/lib/oscd/server.db   # before the first start\n")
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ db: string; role?: "admin" | "operator" | "viewer" | "host"; admin?: boolean; host?: string; tag?: string[]; channel?: string; label?: string; createDb?: boolean; json?: boolean }>();
      const role = o.admin ? (o.role === undefined || o.role === "admin" ? "admin" : undefined) : (o.role ?? (o.host ? "host" : undefined));
      if (role === undefined || (role === "host") !== Boolean(o.host)) {
        throw new UsageError("give a role (--role admin|operator|viewer), or --host NAME for a host token", "e.g. oscd server token create --role operator --label ci, or oscd server token create --host web1", "server-token-kind");
      }
      if (role !== "host" && (o.tag || o.channel)) throw new UsageError("--tag and --channel describe a host", "use them with --host NAME", "server-token-kind");
      if (!o.createDb) requireExistingDatabase(o.db, "oscd server token create");
      const d = await openDatabase(o.db);
      try {
        const now = Date.now();
        const record = (id: string) => recorder(localWho("oscd server token create"), "token.create", `token ${id}`, { role, host: o.host, label: o.label }, now);
        const made = role === "host" ? await createToken(d.db, { kind: "host", host: o.host as string, tags: o.tag, channel: o.channel }, o.label, now, record) : await createToken(d.db, { kind: role }, o.label, now, record);
        if (o.json) printJson(made);
        else process.stdout.write(`${made.token}\n`);
        if (!o.json) progressSay()("server", "token", `${made.id} (${made.kind}${made.host ? ` ${made.host}` : ""}): shown once, keep it secret`);
      } finally {
        await d.close();
      }
    });
  token
    .command("revoke")
    .argument("<id>", "the token's id (from `token list`)")
    .description("revoke a token")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ db: string }>();
      requireExistingDatabase(o.db, "oscd server token revoke");
      const d = await openDatabase(o.db);
      try {
        const now = Date.now();
        if (!(await revokeToken(d.db, id, now, d.dialect, recorder(localWho("oscd server token revoke"), "token.revoke", `token ${id.slice(0, 40)}`, null, now)))) throw new UsageError(`no unrevoked token ${JSON.stringify(id.slice(0, 40))}`, "see `oscd server token list`", "server-token-unknown");
        process.stdout.write(`revoked ${id}${d.dialect === "postgres" ? "" : " (a running server stops accepting it within 5 seconds)"}\n`);
      } finally {
        await d.close();
      }
    });
  server
    .command("audit")
    .description("who changed what on a running server, newest first: releases, rollouts and their steering, plans, tokens (any person's token)")
    .option("--server <url>", "the control server (default: $OSCD_SERVER)")
    .option("--server-token-file <file>", "a file holding a token, any role but host (default: $OSCD_SERVER_TOKEN)")
    .option("--limit <n>", "how many (at most 1000)", positiveInt, 50)
    .addHelpText("after", "\nExamples:\n  oscd server audit --server https://oscd.example.org\n  oscd server audit --limit 500 --json\n")
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ server?: string; serverTokenFile?: string; limit: number; json?: boolean }>();
      const api = await import("../../server-client/index.js");
      const c = new api.ServerClient(api.serverUrl(o.server), await api.readServerToken(o.serverTokenFile));
      const entries = await api.listAudit(c, { limit: Math.min(o.limit, 1000) });
      if (o.json) return printJson({ entries });
      if (entries.length === 0) return void process.stdout.write("nothing recorded yet\n");
      const clean = (s: string) => s.replace(/[^\x20-\x7e]/g, "?");
      printTable(
        ["WHEN", "WHO", "ACTION", "TARGET", "VIA"],
        entries.map((e) => [new Date(e.at).toISOString(), clean(e.actor), e.action, clean(e.target), e.via ? clean(e.via) : "-"]),
      );
    });

  token
    .command("list")
    .description("list tokens (never their secrets)")
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ db: string; json?: boolean }>();
      requireExistingDatabase(o.db, "oscd server token list");
      const d = await openDatabase(o.db);
      try {
        const rows = await listTokens(d.db);
        if (o.json) return printJson(rows);
        printTable(
          ["ID", "ROLE", "HOST", "CREATED", "REVOKED", "LABEL"],
          rows.map((r) => [r.id, r.kind, r.host ?? "-", new Date(r.created_at).toISOString(), r.revoked_at ? new Date(r.revoked_at).toISOString() : "-", r.label]),
        );
      } finally {
        await d.close();
      }
    });
}

/** The hard limit on open files (what Node raised its soft limit to), from /proc; undefined off Linux. */
function openFilesLimit(): number | undefined {
  try {
    const m = /^Max open files\s+\S+\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
