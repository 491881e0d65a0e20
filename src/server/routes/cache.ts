import type { FastifyInstance, FastifyRequest } from "fastify";
import { requireRole } from "../auth.js";
import { cacheRead, cacheWrite } from "../binary-cache.js";
import type { ServerContext } from "../context.js";
import { notFound } from "../errors.js";

/** A NAR of a big closure member can be several GiB. */
export const MAX_CACHE_UPLOAD = 16 * 1024 * 1024 * 1024;

const TYPES: [RegExp, string][] = [
  [/\.narinfo$/, "text/x-nix-narinfo"],
  [/^nix-cache-info$/, "text/x-nix-cache-info"],
  [/\.nar(\.[a-z0-9]+)?$/, "application/x-nix-nar"],
];

/**
 * `/cache/*` when the server runs with `--cache-dir`: GET/HEAD with any valid token (hosts
 * substitute with their own token in a netrc file), PUT with an admin token (`nix copy --to`).
 */
export function cacheRoutes(app: FastifyInstance, ctx: ServerContext, dir: string): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // The upload is streamed to disk, never buffered: the parser hands the stream on untouched.
    scope.addContentTypeParser("*", (_req: FastifyRequest, payload: unknown, done: (err: Error | null, body?: unknown) => void) => done(null, payload));
    scope.get<{ Params: { "*": string } }>("/cache/*", async (req, reply) => {
      await ctx.auth(req);
      const path = req.params["*"];
      const f = await cacheRead(dir, path);
      if (!f) throw notFound(`cache file ${JSON.stringify(path.slice(0, 80))}`);
      const type = TYPES.find(([re]) => re.test(path))?.[1] ?? "application/octet-stream";
      return reply.type(type).header("content-length", f.size).send(f.stream);
    });
    scope.put<{ Params: { "*": string } }>("/cache/*", async (req, reply) => {
      requireRole(await ctx.auth(req), "operate");
      const size = await cacheWrite(dir, req.params["*"], req.raw, MAX_CACHE_UPLOAD);
      return reply.code(201).send({ stored: req.params["*"], size });
    });
  });
}
