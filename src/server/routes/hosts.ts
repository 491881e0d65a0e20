import type { FastifyInstance } from "fastify";
import { requireHostOrReader, requireRole } from "../auth.js";
import type { ServerContext } from "../context.js";
import { notFound } from "../errors.js";
import { fleetCounts, fleetTable } from "../fleet-view.js";
import { checkHostName } from "../names.js";
import { hostHistory } from "../reports.js";

export function hostRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get("/api/v1/hosts", async (req) => {
    requireRole(await ctx.auth(req), "read");
    const hosts = await fleetTable(ctx);
    return { hosts, counts: fleetCounts(hosts) };
  });
  app.get<{ Params: { name: string } }>("/api/v1/hosts/:name", async (req) => {
    const p = await ctx.auth(req);
    const name = checkHostName(req.params.name);
    requireHostOrReader(p, name);
    const row = (await fleetTable(ctx, name))[0];
    if (!row) throw notFound(`host ${name}`);
    return { host: row, history: await hostHistory(ctx.db, name) };
  });
}
