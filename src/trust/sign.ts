import { OscdError } from "../core/errors.js";
import { publicKeyOf, signDetached, signerOf, type SecretKey } from "../nix/index.js";
import { MAX_TRUST_SIGNATURES, revocationsBodySchema, trustBodySchema, type Revocations, type RevocationsBody, type TrustBody, type TrustRoot } from "./schema.js";
import { signingBytes } from "./threshold.js";

export class TrustSignError extends OscdError {
  constructor(message: string) {
    super("trust-sign", message, { hint: "check the document (oscd trust show) and the key", exitCode: 2 });
  }
}

/**
 * Adds one signature per key to a signed document, keeping the ones it has. A key that already
 * signed these exact bytes is not added again (it would count once anyway), and a signature
 * list never grows past the limit readers check.
 */
export function addSignatures(bytes: string, existing: readonly string[], keys: readonly SecretKey[], max: number): string[] {
  const out = [...existing];
  for (const k of keys) {
    const pub = publicKeyOf(k);
    if (out.some((s) => signerOf([pub], bytes, s) !== undefined)) continue;
    if (out.length >= max) throw new TrustSignError(`the document already carries ${out.length} signatures, the most a reader checks`);
    out.push(signDetached(k, bytes));
  }
  return out;
}

function valid<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: (string | number)[]; message: string }[] } } }, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new TrustSignError(`cannot sign ${what} that is not valid: ${i ? `${i.path.join(".") || "(top level)"}: ${i.message}` : "invalid"}`);
  }
  return r.data;
}

/** Signs a trust root body (or adds signatures to a signed one, whose body must not change). */
export function signTrustRoot(doc: TrustBody | TrustRoot, keys: readonly SecretKey[]): TrustRoot {
  const { signatures, ...rest } = doc as TrustRoot;
  const body = valid(trustBodySchema, rest, "a trust root");
  return { ...body, signatures: addSignatures(signingBytes(body), signatures ?? [], keys, MAX_TRUST_SIGNATURES) };
}

export function signRevocations(doc: RevocationsBody | Revocations, keys: readonly SecretKey[]): Revocations {
  const { signatures, ...rest } = doc as Revocations;
  const body = valid(revocationsBodySchema, rest, "a revocation list");
  return { ...body, signatures: addSignatures(signingBytes(body), signatures ?? [], keys, MAX_TRUST_SIGNATURES) };
}
