import type BetterSqlite3 from "better-sqlite3";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { Recorder } from "./recorder.js";
import type { Database, TokenTable } from "./db/schema.js";
import { badRequest, forbidden, unauthorized } from "./errors.js";
import { checkHostName } from "./names.js";
import { PG_CHANNEL } from "./notify.js";

/**
 * Tokens: `oscd_<id>_<secret>`. The id finds the row; only SHA-256 of the secret is stored and
 * it is compared in constant time, so neither a database dump nor response timing gives a
 * usable token. A token is shown once, when it is made.
 *
 * Each token has a role:
 * - `admin`: everything, tokens included;
 * - `operator`: releases and rollouts (publish, start, pause, resume, promote, abort, plans), and
 *   everything a viewer sees;
 * - `viewer`: reads everything people read (fleet, releases, rollouts, jobs, audit, the
 *   dashboard), changes nothing;
 * - `host`: reads and reports for its own host only.
 * The API refuses (403) what a role may not do, whatever a client shows.
 */
export const PEOPLE_ROLES = ["admin", "operator", "viewer"] as const;
export type PersonRole = (typeof PEOPLE_ROLES)[number];
export type Role = PersonRole | "host";
export type Principal = { kind: PersonRole; tokenId: string; label: string } | { kind: "host"; host: string; tokenId: string; label: string };

/** What a request needs: to read what people read, to operate releases and rollouts, or to administer. */
export type Need = "read" | "operate" | "admin";
const GRANTS: Record<Role, readonly Need[]> = { admin: ["read", "operate", "admin"], operator: ["read", "operate"], viewer: ["read"], host: [] };

export function can(p: Principal, need: Need): boolean {
  return GRANTS[p.kind].includes(need);
}

/** Who did something, for the audit list: the token's role, id and label (never the secret). */
export function actorOf(p: Principal): string {
  return `${p.kind}${p.kind === "host" ? ` ${p.host}` : ""} token ${p.tokenId}${p.label ? ` (${p.label})` : ""}`;
}

const TOKEN = /^oscd_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export interface CreatedToken {
  id: string;
  /** The whole token; never stored, shown once. */
  token: string;
  kind: Role;
  host: string | null;
}

export async function createToken(db: Kysely<Database>, opts: { kind: PersonRole } | { kind: "host"; host: string; tags?: string[]; channel?: string }, label = "", now = Date.now(), record?: (id: string) => Recorder): Promise<CreatedToken> {
  if (opts.kind !== "host" && !PEOPLE_ROLES.includes(opts.kind)) throw badRequest("bad-token-request", `${JSON.stringify(String(opts.kind))} is not a role`);
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  const host = opts.kind === "host" ? checkHostName(opts.host) : null;
  await db.transaction().execute(async (trx) => {
    if (opts.kind === "host" && host) {
      await trx
        .insertInto("hosts")
        .values({ name: host, tags: JSON.stringify(opts.tags ?? []), channel: opts.channel ?? null, created_at: now, last_seen: null, state: null, status: "new", reason: null, agent: null })
        .onConflict((oc) => oc.column("name").doNothing())
        .execute();
      if (opts.tags || opts.channel) {
        const set: { tags?: string; channel?: string } = {};
        if (opts.tags) set.tags = JSON.stringify(opts.tags);
        if (opts.channel) set.channel = opts.channel;
        await trx.updateTable("hosts").set(set).where("name", "=", host).execute();
      }
    }
    await trx.insertInto("tokens").values({ id, hash: hashSecret(secret), kind: opts.kind, host, label: label.slice(0, 200), created_at: now, revoked_at: null }).execute();
    await record?.(id)(trx);
  });
  return { id, token: `oscd_${id}_${secret}`, kind: opts.kind, host };
}

/**
 * Revokes a token. On PostgreSQL the running servers are told at once (they forget the tokens
 * they remembered); SQLite's single server forgets it within its cache's 5 s, or at once when
 * revoked through its API.
 */
export async function revokeToken(db: Kysely<Database>, id: string, now = Date.now(), dialect?: "sqlite" | "postgres", record?: Recorder): Promise<boolean> {
  const revoked = await db.transaction().execute(async (trx) => {
    const r = await trx.updateTable("tokens").set({ revoked_at: now }).where("id", "=", id).where("revoked_at", "is", null).executeTakeFirst();
    const done = Number(r.numUpdatedRows) > 0;
    if (done) await record?.(trx);
    return done;
  });
  if (dialect === "postgres") await sql`select pg_notify(${PG_CHANNEL}, 'tokens')`.execute(db);
  return revoked;
}

export type TokenInfo = Omit<TokenTable, "hash">;

export async function listTokens(db: Kysely<Database>): Promise<TokenInfo[]> {
  return db.selectFrom("tokens").select(["id", "kind", "host", "label", "created_at", "revoked_at"]).orderBy("created_at").execute();
}

/**
 * `Bearer TOKEN`, or `Basic` with the token as the password: the agent fetches manifests from
 * URLs and sends a URL's user:password that way (src/agent/manifest-source.ts).
 */
function tokenOf(header: string): string | undefined {
  const bearer = /^Bearer (\S+)$/.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic ([A-Za-z0-9+/]+={0,2})$/.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/** Same cost whether the id exists or not: a missing row is compared against a dummy hash. */
const DUMMY = hashSecret("no such token");

type TokenRow = Pick<TokenTable, "hash" | "kind" | "host" | "label" | "revoked_at">;
export type TokenLookup = (id: string) => Promise<TokenRow | undefined>;

/**
 * The token row by id. On SQLite a prepared statement on the raw handle (kysely compiles and
 * prepares every query again, which was most of a long-poll's cost), run while holding kysely's
 * one connection so it never reads inside another request's open transaction.
 */
export function tokenLookup(db: Kysely<Database>, raw?: BetterSqlite3.Database): TokenLookup {
  if (!raw) return (id) => db.selectFrom("tokens").select(["hash", "kind", "host", "label", "revoked_at"]).where("id", "=", id).executeTakeFirst();
  const stmt = raw.prepare<[string], TokenRow>("select hash, kind, host, label, revoked_at from tokens where id = ?");
  return (id) => db.connection().execute(async () => stmt.get(id));
}

/** The principal an `Authorization` header names, or a 401. */
export async function authenticate(db: Kysely<Database>, header: string | undefined, lookup: TokenLookup = tokenLookup(db)): Promise<Principal> {
  if (!header) throw unauthorized("no token");
  const t = TOKEN.exec(tokenOf(header) ?? "");
  if (!t) throw unauthorized("the token is malformed");
  const [, id, secret] = t as unknown as [string, string, string];
  const row = await lookup(id);
  const want = Buffer.from(row?.hash ?? DUMMY, "hex");
  const got = Buffer.from(hashSecret(secret), "hex");
  const equal = timingSafeEqual(want, got);
  if (!row || !equal || row.revoked_at !== null) throw unauthorized("the token is unknown or revoked");
  const label = row.label;
  if (row.kind === "host") {
    if (!row.host) throw unauthorized("the token names no host");
    return { kind: "host", host: row.host, tokenId: id, label };
  }
  // A role this oscd does not know (a newer one's database) grants nothing.
  if (!(PEOPLE_ROLES as readonly string[]).includes(row.kind)) throw unauthorized(`the token's role ${JSON.stringify(row.kind)} is unknown to this server`);
  return { kind: row.kind, tokenId: id, label };
}

const NEEDS: Record<Need, string> = {
  read: "a viewer, operator or admin token",
  operate: "an operator or admin token (releases and rollouts)",
  admin: "an admin token",
};

/** The request needs `need`; a role without it is refused (403), naming the role it has. */
export function requireRole(p: Principal, need: Need): void {
  if (!can(p, need)) throw forbidden(`this needs ${NEEDS[need]}; this is a ${p.kind} token`);
}

/** A host token may act only for its own host; an admin token for any. */
export function requireHost(p: Principal, host: string): void {
  if (p.kind === "admin") return;
  if (p.kind !== "host") throw forbidden(`this needs the host's own token (or an admin token); this is a ${p.kind} token`);
  if (p.host !== host) throw forbidden(`this token is for host ${p.host}, not ${host}`);
}

/** Reads of one host: its own token, or anyone who may read the fleet. */
export function requireHostOrReader(p: Principal, host: string): void {
  if (can(p, "read")) return;
  requireHost(p, host);
}
