import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { HttpError } from "./errors.js";

/**
 * The dashboard's policy: its own files only, no inline script or style, no framing. Sent on
 * every response, not only the page: an API answer, an error or a cache file opened in a browser
 * is then never a document that runs anything either.
 */
export const CONTENT_SECURITY_POLICY = "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

/**
 * CSP and `X-Content-Type-Options: nosniff` on every response: set on the raw response at the
 * first hook, so they reach the routes that write the response themselves (the event stream)
 * and the error and 404 answers too; a header a route sets itself still wins.
 */
export function securityHeaders(app: FastifyInstance): void {
  app.addHook("onRequest", (_req, reply, done) => {
    reply.raw.setHeader("content-security-policy", CONTENT_SECURITY_POLICY);
    reply.raw.setHeader("x-content-type-options", "nosniff");
    done();
  });
}

/**
 * `/metrics` behind a bearer token of its own (`oscd server --metrics-token-file`), compared in
 * constant time (SHA-256 of both sides, so their lengths tell nothing either). Without one the
 * endpoint stays open, as documented.
 */
export function metricsGuard(token: string | undefined): (req: FastifyRequest) => void {
  if (token === undefined) return () => undefined;
  const want = createHash("sha256").update(token).digest();
  return (req) => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "");
    const got = createHash("sha256").update(m?.[1] ?? "").digest();
    if (!timingSafeEqual(want, got) || !m) {
      throw new HttpError(401, "unauthorized", m ? "the metrics token does not match" : "no metrics token", "send `Authorization: Bearer <token>` with the token in the file given to oscd server --metrics-token-file");
    }
  };
}
