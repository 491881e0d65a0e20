import { link, mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { GuardError, OscdError, UsageError } from "../core/errors.js";
import { canonicalJson, parseStrictJson, StrictJsonError } from "../manifest/index.js";
import { MAX_REVOCATIONS_BYTES, parseRevocations, parseTrustRoot, REVOCATIONS_SCHEMA, serializeRevocations, serializeTrustRoot, TRUST_SCHEMA, type Revocations, type TrustRoot } from "./schema.js";
import { trustSource } from "./source.js";

/**
 * Trust documents as files: reading one the user names (a path or a URL, capped), and putting
 * signed versions where machines fetch them (`oscd trust publish`): a channel's `trust/`
 * directory with `<N>.root.json` for every version (created once, never replaced by other
 * content), `root.json` moved forward only, `<channel>.revocations.json` moved forward only.
 */
export type TrustDocument = { kind: "root"; doc: TrustRoot; text: string } | { kind: "revocations"; doc: Revocations; text: string };

/** Reads a trust root or a revocation list from a path or an http(s)/file URL, capped before parsing. */
export async function readTrustDocument(location: string): Promise<TrustDocument> {
  let text: string | undefined;
  if (/^(https?|file):\/\//i.test(location)) {
    const u = new URL(location);
    const name = u.pathname.split("/").pop() ?? "";
    u.pathname = u.pathname.replace(/[^/]*$/, "");
    const src = trustSource(u.toString());
    // Names other than the published ones are fetched through a directory source of their own.
    text = await src.get(name, MAX_REVOCATIONS_BYTES).catch((e: unknown) => {
      if (e instanceof Error && /not a trust document name/.test(e.message)) throw new UsageError(`${location} is not named like a trust document (root.json, <N>.root.json, <channel>.revocations.json)`, "download it and pass its path", "trust-usage");
      throw e;
    });
  } else {
    try {
      const buf = await readFile(location);
      if (buf.length > MAX_REVOCATIONS_BYTES) throw new GuardError("trust-too-large", `${location} is larger than any trust document`, "check the file");
      text = buf.toString("utf8");
    } catch (e) {
      if (e instanceof OscdError) throw e;
      throw new UsageError(`cannot read ${location}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, "check the path", "trust-unreadable");
    }
  }
  if (text === undefined) throw new UsageError(`${location} does not exist`, "check the URL", "trust-unreadable");
  let schema: unknown;
  try {
    schema = (parseStrictJson(text, { maxLength: MAX_REVOCATIONS_BYTES }) as { schema?: unknown } | null)?.schema;
  } catch (e) {
    if (!(e instanceof StrictJsonError)) throw e;
  }
  if (schema === REVOCATIONS_SCHEMA) return { kind: "revocations", doc: parseRevocations(text, location), text };
  if (schema !== TRUST_SCHEMA && schema !== undefined) throw new GuardError("trust-format", `${location} is a ${JSON.stringify(schema).slice(0, 60)} document, not a trust root or a revocation list`, "pass a file written by oscd trust init|rotate|revoke");
  return { kind: "root", doc: parseTrustRoot(text, location), text };
}

export function serializeTrustDocument(d: TrustDocument): string {
  return d.kind === "root" ? serializeTrustRoot(d.doc) : serializeRevocations(d.doc);
}

/** Writes a file whole (temporary name, rename), so a reader sees the old or the new document. */
export async function writeDocumentFile(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${randomBytes(8).toString("hex")}.tmp`);
  await writeFile(tmp, text, { mode: 0o644, flag: "wx" });
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

export type PublishedStatus = "written" | "unchanged" | "newer-kept";

async function readExisting(path: string): Promise<string | undefined> {
  return readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? undefined : Promise.reject(e)));
}

const sameBody = (a: object, b: object) => canonicalJson({ ...a, signatures: [] }) === canonicalJson({ ...b, signatures: [] });

/**
 * Puts verified documents into a trust directory. A version already there with other content
 * is refused (two documents must never carry one version); the same content with other
 * signatures is replaced by the one given (signatures added later).
 */
export async function publishTrustDocument(dir: string, d: TrustDocument, dryRun?: Map<string, string>): Promise<{ path: string; status: PublishedStatus }[]> {
  const text = serializeTrustDocument(d);
  // A dry run reads what earlier documents of the same run would have written, and writes nothing.
  const readIf = async (path: string) => dryRun?.get(path) ?? readExisting(path);
  const write = async (path: string, t: string) => (dryRun ? void dryRun.set(path, t) : writeDocumentFile(path, t));
  const out: { path: string; status: PublishedStatus }[] = [];
  if (d.kind === "root") {
    const versioned = join(dir, `${d.doc.version}.root.json`);
    const have = await readIf(versioned);
    if (have !== undefined) {
      const old = parseTrustRoot(have, versioned);
      if (!sameBody(old, d.doc)) throw new GuardError("trust-rollback", `${versioned} already holds another trust root version ${d.doc.version}`, "a version is signed once: make the next one with oscd trust rotate");
      if (have !== text) await write(versioned, text);
      out.push({ path: versioned, status: have === text ? "unchanged" : "written" });
    } else if (dryRun) {
      dryRun.set(versioned, text);
      out.push({ path: versioned, status: "written" });
    } else {
      await mkdir(dir, { recursive: true });
      const tmp = join(dir, `.${randomBytes(8).toString("hex")}.tmp`);
      await writeFile(tmp, text, { mode: 0o644, flag: "wx" });
      try {
        await link(tmp, versioned);
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
      out.push({ path: versioned, status: "written" });
    }
    const current = join(dir, "root.json");
    const cur = await readIf(current);
    const curVersion = cur === undefined ? 0 : parseTrustRoot(cur, current).version;
    if (curVersion > d.doc.version) out.push({ path: current, status: "newer-kept" });
    else if (cur === text) out.push({ path: current, status: "unchanged" });
    else {
      await write(current, text);
      out.push({ path: current, status: "written" });
    }
    return out;
  }
  const path = join(dir, `${d.doc.channel}.revocations.json`);
  const cur = await readIf(path);
  const old = cur === undefined ? undefined : parseRevocations(cur, path);
  if (old && old.version > d.doc.version) return [{ path, status: "newer-kept" }];
  if (old && old.version === d.doc.version && !sameBody(old, d.doc)) throw new GuardError("revocations-rollback", `${path} already holds another revocation list version ${d.doc.version}`, "make the next version with oscd trust revoke --previous");
  if (cur === text) return [{ path, status: "unchanged" }];
  await write(path, text);
  return [{ path, status: "written" }];
}
