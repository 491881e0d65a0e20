/**
 * The global fetch with its body read as a stream and cut at a cap (endless data, TUF 1.0.34):
 * nothing past `maxBytes` is read, and the connection is closed, so a server streaming without
 * end (or a padded answer) cannot fill memory or hang the reader before anything is parsed.
 */
export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the answer is larger than ${maxBytes} bytes; nothing past that was read`);
  }
}

export interface CappedResponse {
  status: number;
  headers: Headers;
  /** The body as UTF-8 text: "" for answers other than 2xx (their body is not read). */
  text: string;
  /** The same body as bytes. */
  bytes: Buffer;
}

export interface CappedInit extends RequestInit {
  maxBytes: number;
  /** Read the body of non-2xx answers too (still capped). */
  readErrors?: boolean;
}

export async function fetchCapped(url: string | URL, init: CappedInit): Promise<CappedResponse> {
  const { maxBytes, readErrors, ...rest } = init;
  const res = await fetch(url, rest);
  if (!res.body || (!readErrors && (res.status < 200 || res.status >= 300))) {
    await res.body?.cancel().catch(() => undefined);
    return { status: res.status, headers: res.headers, text: "", bytes: Buffer.alloc(0) };
  }
  const declared = Number(res.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body.cancel().catch(() => undefined);
    throw new BodyTooLargeError(maxBytes);
  }
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLargeError(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = Buffer.concat(chunks);
  return { status: res.status, headers: res.headers, text: bytes.toString("utf8"), bytes };
}
