import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { authenticate } from "../auth.js";
import type { ServerContext } from "../context.js";
import { HttpError } from "../errors.js";
import { netbootFile, VerifiedFiles, type NetbootConfig, type NetbootPart } from "../netboot.js";

const PARTS: ReadonlySet<string> = new Set(["boot.ipxe", "kernel", "initrd"]);
const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

function partOf(raw: string): NetbootPart {
  if (!PARTS.has(raw)) throw new HttpError(404, "not-found", "no such netboot file (boot.ipxe, kernel, initrd)");
  return raw as NetbootPart;
}

/** Where this request's own files are: the same identity, so kernel and initrd are checked the same way. */
function baseOf(req: FastifyRequest, identity: string): string {
  const host = req.headers.host ?? "";
  // The Host header is the client's own; it only shapes that client's script, and is refused when it could break it.
  if (!/^[A-Za-z0-9.:[\]-]{1,255}$/.test(host)) throw new HttpError(400, "bad-host-header", "the Host header is not a host name or address");
  return `${req.protocol}://${host}/netboot/${identity}/`;
}

async function send(reply: FastifyReply, f: { type: string; body: string | Buffer }): Promise<FastifyReply> {
  return reply.type(f.type).header("cache-control", "no-store").header("content-length", Buffer.byteLength(f.body)).send(f.body);
}

/**
 * Netboot for iPXE (docs/netboot.md): `/netboot/token/<host token>/{boot.ipxe,kernel,initrd}`
 * (the token compared in constant time against its stored hash, as every token) and, for
 * hosts with `netboot.mac` in the fleet file, `/netboot/mac/<mac>/…`. An unknown MAC is 404
 * and a wrong, revoked or admin token 403, each saying only that, never naming another host.
 */
export function netbootRoutes(app: FastifyInstance, ctx: ServerContext, cfg: NetbootConfig): void {
  const files = new VerifiedFiles();
  // The one script a DHCP server can hand every machine: iPXE fills in its own MAC address.
  app.get("/netboot/boot.ipxe", async (req, reply) =>
    send(reply, { type: "text/plain; charset=utf-8", body: `#!ipxe\nchain ${baseOf(req, "mac")}\${net0/mac}/boot.ipxe || echo oscd: this machine's MAC address is not in the fleet\n` }),
  );
  app.get<{ Params: { token: string; part: string } }>("/netboot/token/:token/:part", async (req, reply) => {
    const part = partOf(req.params.part);
    let host: string;
    try {
      const p = await authenticate(ctx.db, `Bearer ${req.params.token}`);
      if (p.kind !== "host") throw new HttpError(403, "netboot-bad-token", "netboot takes a host token, not a person's (admin, operator, viewer) token");
      host = p.host;
    } catch (e) {
      if (!(e instanceof HttpError) || e.code === "netboot-bad-token") throw e;
      throw new HttpError(403, "netboot-bad-token", "the token is unknown or revoked", "make one with oscd server token create --host NAME");
    }
    return send(reply, await netbootFile(ctx, cfg, files, host, part, baseOf(req, `token/${req.params.token}`)));
  });
  app.get<{ Params: { mac: string; part: string } }>("/netboot/mac/:mac/:part", async (req, reply) => {
    const part = partOf(req.params.part);
    const mac = req.params.mac.toLowerCase();
    const host = MAC.test(mac) ? cfg.macs.get(mac) : undefined;
    if (host === undefined) throw new HttpError(404, "netboot-unknown-mac", "no host has this MAC address", "set hosts.<name>.netboot.mac in oscd.toml and start oscd server with --fleet");
    return send(reply, await netbootFile(ctx, cfg, files, host, part, baseOf(req, `mac/${mac}`)));
  });
}
