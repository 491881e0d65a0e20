import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { directorySource, isTrustDocumentName, MachineTrust, MAX_REVOCATIONS_BYTES, MAX_TRUST_BYTES, parseTrustRoot, stillValid, parseRevocations, verifySelfSigned, type Revocations } from "../trust/index.js";
import { HttpError } from "./errors.js";

/**
 * `oscd server --trust-dir DIR`: the channels' trust directory (as `oscd trust publish` writes
 * it). The server checks uploaded manifests against its newest trust root exactly as machines
 * do (the channel's release threshold, revocations) and serves the directory to agents beside
 * their manifest (`/api/v1/channels/<channel>/trust/<file>`). It is read again for every
 * upload, so a rotation published into it needs no restart. The server stays untrusted: agents
 * walk and verify these files themselves.
 */
export async function loadServerTrust(dir: string): Promise<MachineTrust> {
  const src = directorySource(dir);
  const text = await src.get("root.json", MAX_TRUST_BYTES);
  if (text === undefined) throw new HttpError(503, "trust-root-missing", `the server's trust directory ${dir} has no root.json`, "publish the trust root there with oscd trust publish --to DIR");
  const root = parseTrustRoot(text, join(dir, "root.json"));
  verifySelfSigned(root, join(dir, "root.json"));
  const lists: Revocations[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith(".revocations.json") || !isTrustDocumentName(name)) continue;
    const t = await src.get(name, MAX_REVOCATIONS_BYTES);
    if (t === undefined) continue;
    const l = parseRevocations(t, join(dir, name));
    if (`${l.channel}.revocations.json` === name && stillValid(root, l)) lists.push(l);
  }
  return MachineTrust.of(root, lists);
}

/** A trust document for an agent, or undefined (404) for any name that is not one. */
export async function trustFile(dir: string, name: string): Promise<string | undefined> {
  if (!isTrustDocumentName(name)) return undefined;
  return directorySource(dir).get(name, name.endsWith(".revocations.json") ? MAX_REVOCATIONS_BYTES : MAX_TRUST_BYTES);
}
