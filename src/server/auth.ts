import type BetterSqlite3 from "better-sqlite3";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { Database, TokenTable } from "./db/schema.js";
import { forbidden, unauthorized } from "./errors.js";
import { checkHostName } from "./names.js";
import { PG_CHANNEL } from "./notify.js";

/**
 * Tokens: `oscd_<id>_<secret>`. The id finds the row; only SHA-256 of the secret is stored and
 * it is compared in constant time, so neither a database dump nor response timing gives a
 * usable token. A token is shown once, when it is made. A host token reads and reports for its
 * own host only; an admin token may do everything.
 */
export type Principal = { kind: "admin"; tokenId: string } | { kind: "host"; host: string; tokenId: string };

const TOKEN = /^oscd_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export interface CreatedToken {
  id: string;
  /** The whole token; never stored, shown once. */
  token: string;
  kind: "admin" | "host";
  host: string | null;
}

export async function createToken(db: Kysely<Database>, opts: { kind: "admin" } | { kind: "host"; host: string; tags?: string[]; channel?: string }, label = "", now = Date.now()): Promise<CreatedToken> {
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  const host = opts.kind === "host" ? checkHostName(opts.host) : null;
  await db.transaction().execute(async (trx) => {
    if (opts.kind === "host" && host) {
      await trx
        .insertInto("hosts")
        .values({ name: host, tags: JSON.stringify(opts.tags ?? []), channel: opts.channel ?? null, created_at: now, last_seen: null, state: null, status: "new", reason: null })
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
  });
  return { id, token: `oscd_${id}_${secret}`, kind: opts.kind, host };
}

/**
 * Revokes a token. On PostgreSQL the running servers are told at once (they forget the tokens
 * they remembered); SQLite's single server forgets it within its cache's 5 s, or at once when
 * revoked through its API.
 */
export async function revokeToken(db: Kysely<Database>, id: string, now = Date.now(), dialect?: "sqlite" | "postgres"): Promise<boolean> {
  const r = await db.updateTable("tokens").set({ revoked_at: now }).where("id", "=", id).where("revoked_at", "is", null).executeTakeFirst();
  if (dialect === "postgres") await sql`select pg_notify(${PG_CHANNEL}, 'tokens')`.execute(db);
  return Number(r.numUpdatedRows) > 0;
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

type TokenRow = Pick<TokenTable, "hash" | "kind" | "host" | "revoked_at">;
export type TokenLookup = (id: string) => Promise<TokenRow | undefined>;

/**
 * The token row by id. On SQLite a prepared statement on the raw handle (kysely compiles and
 * prepares every query again, which was most of a long-poll's cost), run while holding kysely's
 * one connection so it never reads inside another request's open transaction.
 */
export function tokenLookup(db: Kysely<Database>, raw?: BetterSqlite3.Database): TokenLookup {
  if (!raw) return (id) => db.selectFrom("tokens").select(["hash", "kind", "host", "revoked_at"]).where("id", "=", id).executeTakeFirst();
  const stmt = raw.prepare<[string], TokenRow>("select hash, kind, host, revoked_at from tokens where id = ?");
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
  if (row.kind === "admin") return { kind: "admin", tokenId: id };
  if (!row.host) throw unauthorized("the token names no host");
  return { kind: "host", host: row.host, tokenId: id };
}

export function requireAdmin(p: Principal): void {
  if (p.kind !== "admin") throw forbidden("this needs an admin token");
}

/** A host token may act only for its own host; an admin token for any. */
export function requireHost(p: Principal, host: string): void {
  if (p.kind === "admin") return;
  if (p.host !== host) throw forbidden(`this token is for host ${p.host}, not ${host}`);
}
