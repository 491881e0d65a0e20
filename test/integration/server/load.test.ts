import { afterAll, describe, expect, it } from "vitest";
import { createToken } from "../../../src/server/index.js";
import { startTestServer, stopTestPostgres, type Dialect } from "../../harness/control-server.js";
import { agentsReporting } from "../../harness/server-load.js";

/**
 * 1,000 concurrent simulated agents report (resending some reports, as an outbox does after a
 * lost answer) for a bounded time: every acknowledged report is stored exactly once, none lost.
 * OSCD_SERVER_LOAD_SECONDS sets the time per database (the full minute: 60).
 */
afterAll(() => stopTestPostgres());
const SECONDS = Number(process.env.OSCD_SERVER_LOAD_SECONDS ?? 10);
const AGENTS = 1000;

describe.each<Dialect>(["sqlite", "postgres"])("1,000 agents reporting (%s)", (dialect) => {
  it(`loses and duplicates no report over ${SECONDS}s`, { timeout: SECONDS * 1000 + 120_000 }, async () => {
    const s = await startTestServer(dialect);
    try {
      const tokens = [];
      for (let i = 0; i < AGENTS; i++) {
        const host = `h${String(i).padStart(4, "0")}`;
        tokens.push({ host, token: (await createToken(s.server.ctx.db, { kind: "host", host })).token });
      }
      const r = await agentsReporting(s.url, tokens, SECONDS * 1000);
      const rows = await s.server.ctx.db.selectFrom("reports").select("id").execute();
      const stored = new Set(rows.map((x) => x.id.slice(x.id.indexOf("/") + 1)));
      console.log(`${dialect}: ${AGENTS} agents, ${r.requests} requests in ${r.seconds.toFixed(1)}s (${Math.round(r.requests / r.seconds)}/s), ${r.acknowledged.size} reports, ${r.resends} resends, ${r.errors} errors ${JSON.stringify(r.errorSamples)}`);
      expect(r.acknowledged.size).toBeGreaterThan(AGENTS);
      expect(r.resends).toBeGreaterThan(0);
      expect(rows.length).toBe(stored.size);
      expect([...r.acknowledged].filter((id) => !stored.has(id))).toEqual([]);
      expect(stored.size).toBe(r.acknowledged.size);
      expect([...r.created.values()].filter((n) => n !== 1)).toEqual([]);
      // Each id was created once: on a 201, or on an attempt whose answer was lost (a timeout),
      // which its retry then saw as a duplicate.
      expect([...r.acknowledged].filter((id) => !r.created.has(id) && !r.ackedAfterError.has(id))).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
