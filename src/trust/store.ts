import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { OscdError } from "../core/errors.js";
import { writeFileAtomic } from "../core/atomic.js";
import { CHANNEL_NAME } from "../manifest/light.js";
import type { Revocations, TrustRoot } from "./schema.js";
import { verifySelfSigned } from "./rotation.js";

/**
 * What a machine keeps of the trust layer, under its state directory (`/var/lib/oscd/trust/`):
 * `root.json`, the highest trust root version it verified (the text as signed), and
 * `revocations/<channel>.json`, the highest revocation list of each channel. Written
 * atomically, and only after verification; read back strictly, so a damaged or edited file is
 * a refusal (`trust-state-corrupt`), never a silent fall back to less trust checking.
 */
export const trustDir = (stateDir: string) => join(stateDir, "trust");
const rootFile = (stateDir: string) => join(trustDir(stateDir), "root.json");
const revocationsDir = (stateDir: string) => join(trustDir(stateDir), "revocations");

export class TrustStateError extends OscdError {
  constructor(path: string, detail: string) {
    super("trust-state-corrupt", `${path}: ${detail}`, {
      hint: "oscd writes this file atomically after verifying it, so something else changed it; restore it from a backup, or remove it and run `oscd trust update --from URL` to walk the trust roots again from the machine's configured anchor",
      exitCode: 3,
    });
  }
}

/** The documents' zod schemas, loaded when there is a document to read (a machine without one starts without them). */
const schemas = () => import("./schema.js");

// Read synchronously, as the engine's other state files (core/atomic.ts): small files, at every start.
async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new TrustStateError(path, `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** The persisted trust root, re-checked against its own root keys; undefined when there is none. */
export async function readStoredRoot(stateDir: string): Promise<{ root: TrustRoot; text: string } | undefined> {
  const path = rootFile(stateDir);
  const text = await readIfThere(path);
  if (text === undefined) return undefined;
  const { parseTrustRoot } = await schemas();
  try {
    const root = parseTrustRoot(text, path);
    verifySelfSigned(root, path);
    return { root, text };
  } catch (e) {
    throw new TrustStateError(path, e instanceof Error ? e.message : String(e));
  }
}

export async function writeStoredRoot(stateDir: string, text: string): Promise<void> {
  await writeFileAtomic(rootFile(stateDir), text, 0o644);
}

/** Every persisted revocation list (parsed; whether each still counts is the caller's check). */
export async function readStoredRevocations(stateDir: string): Promise<Revocations[]> {
  const dir = revocationsDir(stateDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new TrustStateError(dir, `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const out: Revocations[] = [];
  for (const n of names.sort()) {
    const m = /^(.+)\.json$/.exec(n);
    if (!m || !CHANNEL_NAME.test(m[1] as string)) continue;
    const path = join(dir, n);
    const text = await readIfThere(path);
    if (text === undefined) continue;
    const { parseRevocations } = await schemas();
    let list: Revocations;
    try {
      list = parseRevocations(text, path);
    } catch (e) {
      throw new TrustStateError(path, e instanceof Error ? e.message : String(e));
    }
    if (list.channel !== m[1]) throw new TrustStateError(path, `holds the list of channel ${list.channel}`);
    out.push(list);
  }
  return out;
}

export async function writeStoredRevocations(stateDir: string, channel: string, text: string): Promise<void> {
  await writeFileAtomic(join(revocationsDir(stateDir), `${channel}.json`), text, 0o644);
}
