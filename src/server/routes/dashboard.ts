import type { FastifyInstance } from "fastify";
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from "../dashboard/assets.js";

/**
 * The dashboard's three files, public (they hold no data; the page asks for an admin token).
 * Their Content-Security-Policy comes with every response (http-security.ts).
 */
export function dashboardRoutes(app: FastifyInstance): void {
  app.get("/", async (_req, reply) => reply.type("text/html; charset=utf-8").send(DASHBOARD_HTML));
  app.get("/dashboard.js", async (_req, reply) => reply.type("text/javascript; charset=utf-8").send(DASHBOARD_JS));
  app.get("/dashboard.css", async (_req, reply) => reply.type("text/css; charset=utf-8").send(DASHBOARD_CSS));
}
