import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { lstat, mkdir, open, readlink, rename, unlink, type FileHandle } from "node:fs/promises";
import { posix } from "node:path";
import { z } from "zod";
import { GuardError, OscdError } from "../../core/errors.js";
import { run } from "../../core/exec.js";
import { hostNameSchema, keyFileSchemas } from "../../fleet/index.js";

/**
 * `oscd deploy-target put-keys`: writes the keys of a push deploy on the host, as root, into
 * directories that their owner (a service user) may be able to write. Nothing is done by path
 * where someone else could swap a name under it (issue 21: a key upload that followed its
 * owner's symbolic links made the service user root):
 * - the destination's directory is reached one component at a time, each opened with
 *   O_NOFOLLOW relative to its pinned parent (`/proc/self/fd/N/name`: Node has no openat); a
 *   symbolic link on the way is followed only when root owns it and its directory (nobody
 *   else can change where it points), else the key is refused (`key-destination-unsafe`);
 * - the file is created in that pinned directory with O_CREAT|O_EXCL|O_NOFOLLOW under a
 *   random name, its mode and owner set on the descriptor before the content is written, and
 *   renamed over the destination within the same pinned directory (rename never follows a
 *   link: a symlinked destination is replaced, not written through);
 * - after the rename the destination must be the file written; if someone swapped it the
 *   upload fails (`key-destination-unsafe`): whatever they put there is theirs, never root's.
 */

const MAX_REQUEST_BYTES = 16 << 20;
const MAX_SYMLINKS = 40;

export const keyWriteSchema = z
  .object({
    name: hostNameSchema,
    ...keyFileSchemas,
    content: z.string(),
  })
  .strict();
export type KeyWrite = z.infer<typeof keyWriteSchema>;

class UnsafeDestination extends GuardError {
  constructor(k: Pick<KeyWrite, "name" | "destination">, why: string) {
    super("key-destination-unsafe", `key ${k.name} (${k.destination}) refused: ${why}`, "deliver the key to a directory only root can change (the default /run/keys/<key>), or remove the symbolic link its owner can change");
  }
}

const refuse = (why: string) => new GuardError("bad-deploy-request", `the key upload request is refused: ${why}`, "keys are uploaded by oscd deploy; run the same oscd version on both sides");

/** The whole request from a stream (standard input), refused once it passes 16 MiB. */
export async function readKeyRequest(input: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) throw refuse("larger than 16 MiB");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The key requests of one upload: JSON lines. Errors name the line, never its content. */
export function parseKeyRequests(text: string): KeyWrite[] {
  const out: KeyWrite[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line === "") continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      throw refuse(`line ${i + 1} is not JSON`);
    }
    const r = keyWriteSchema.safeParse(raw);
    if (!r.success) throw refuse(`line ${i + 1}: ${r.error.issues[0]?.path.join(".") || "request"} is not valid`);
    out.push(r.data);
  }
  return out;
}

const fdPath = (dir: FileHandle, name: string) => `/proc/self/fd/${dir.fd}/${name}`;
/** Only root can change what such a directory holds (or where a link in it points). */
const rootOnly = (st: { uid: number; mode: number }) => st.uid === 0 && (st.mode & 0o022) === 0;
const parts = (p: string) => p.split("/").filter((c) => c !== "" && c !== ".");

/**
 * Opens the directory at `path` without following any link root does not control, making
 * missing directories (0755, root's) on the way. Returns the pinned directory.
 */
async function openDirectory(k: KeyWrite, path: string): Promise<FileHandle> {
  let todo = parts(path);
  let walked = "/";
  let cur = await open("/", constants.O_RDONLY | constants.O_DIRECTORY);
  let curSafe = rootOnly(await cur.stat());
  let links = 0;
  try {
    const restart = async (from: string[]) => {
      await cur.close();
      cur = await open("/", constants.O_RDONLY | constants.O_DIRECTORY);
      curSafe = rootOnly(await cur.stat());
      walked = "/";
      todo = from;
    };
    while (todo.length > 0) {
      const c = todo.shift() as string;
      // Only a link's target may hold "..": back to the parent of the path walked so far.
      if (c === "..") {
        await restart([...parts(posix.dirname(walked)), ...todo]);
        continue;
      }
      const at = fdPath(cur, c);
      const here = posix.join(walked, c);
      let st = await lstat(at).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? undefined : Promise.reject(e)));
      let made = false;
      if (st === undefined) {
        // Missing directories are made traversable (0755), so the key's owner can reach the file.
        made = await mkdir(at, { mode: 0o755 }).then(() => true, (e: NodeJS.ErrnoException) => (e.code === "EEXIST" ? false : Promise.reject(e)));
        st = await lstat(at);
      }
      if (st.isSymbolicLink()) {
        if (!curSafe || st.uid !== 0) throw new UnsafeDestination(k, `${here} is a symbolic link that a user other than root can change`);
        if (++links > MAX_SYMLINKS) throw new UnsafeDestination(k, `more than ${MAX_SYMLINKS} symbolic links on the way`);
        const target = await readlink(at);
        if (target.startsWith("/")) await restart([...parts(target), ...todo]);
        else todo = [...parts(target), ...todo];
        continue;
      }
      if (!st.isDirectory()) throw new UnsafeDestination(k, `${here} is not a directory`);
      const next = await open(at, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch((e: NodeJS.ErrnoException) => {
        // Swapped for a link (or something else) between the look and the open.
        throw e.code === "ELOOP" || e.code === "ENOTDIR" ? new UnsafeDestination(k, `${here} changed while it was opened`) : e;
      });
      await cur.close();
      cur = next;
      walked = here;
      let nst = await cur.stat();
      // Made here: 0755 whatever the umask (on the descriptor, and only if it is still root's).
      if (made && nst.uid === 0) {
        await cur.chmod(0o755);
        nst = await cur.stat();
      }
      curSafe = rootOnly(nst);
    }
    return cur;
  } catch (e) {
    await cur.close().catch(() => undefined);
    throw e;
  }
}

/** A user's or group's numeric id, as the host's name service knows it (NSS: LDAP, systemd…). */
async function idOf(k: KeyWrite, db: "passwd" | "group", name: string): Promise<number> {
  const r = await run("getent", [db, name], { timeoutMs: 30_000, missingHint: "getent comes with glibc; put it on root's PATH" });
  const id = r.exitCode === 0 ? Number(r.stdout.split("\n")[0]?.split(":")[2]) : NaN;
  if (!Number.isSafeInteger(id)) throw new OscdError("key-upload-failed", `key ${k.name}: no ${db === "passwd" ? "user" : "group"} ${name} on this host`, { hint: "check the key's owner and group in oscd.toml; they must exist on the host (the NixOS module creates service users at activation, so upload such keys after it)" });
  return id;
}

/** Writes one key as described above. */
export async function writeKey(k: KeyWrite): Promise<void> {
  const uid = await idOf(k, "passwd", k.owner);
  const gid = await idOf(k, "group", k.group);
  const dir = await openDirectory(k, posix.dirname(k.destination));
  const base = posix.basename(k.destination);
  const temp = `.${base}.oscd-${randomBytes(8).toString("hex")}`;
  let file: FileHandle | undefined;
  try {
    file = await open(fdPath(dir, temp), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    // Mode and owner before the content: the file never holds the key with other permissions.
    await file.chmod(Number.parseInt(k.mode, 8));
    await file.chown(uid, gid);
    await file.writeFile(k.content);
    await file.sync();
    const mine = await file.stat();
    await rename(fdPath(dir, temp), fdPath(dir, base)).catch((e: NodeJS.ErrnoException) => {
      throw e.code === "EISDIR" || e.code === "ENOTEMPTY" || e.code === "EEXIST" ? new UnsafeDestination(k, `${k.destination} is a directory`) : e;
    });
    const now = await lstat(fdPath(dir, base)).catch(() => undefined);
    if (!now || now.ino !== mine.ino || now.dev !== mine.dev) throw new UnsafeDestination(k, `${k.destination} was replaced while it was written (another user can write ${posix.dirname(k.destination)})`);
    await dir.sync();
  } catch (e) {
    // Our temporary file, if it is still there under its name (unlink never follows a link).
    if (file) {
      const mine = await file.stat().catch(() => undefined);
      const there = await lstat(fdPath(dir, temp)).catch(() => undefined);
      if (mine && there && there.ino === mine.ino && there.dev === mine.dev) await unlink(fdPath(dir, temp)).catch(() => undefined);
    }
    throw e;
  } finally {
    await file?.close().catch(() => undefined);
    await dir.close().catch(() => undefined);
  }
}

/** All keys of one upload, in order; the first failure stops it (the deployer reports the host failed). */
export async function writeKeys(text: string): Promise<number> {
  const keys = parseKeyRequests(text);
  for (const k of keys) await writeKey(k);
  return keys.length;
}
