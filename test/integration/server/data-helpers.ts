import { recordReport, type Report } from "../../../src/server/reports.js";
import type { TestServer } from "../../harness/control-server.js";
export { pruneReports } from "../../../src/server/index.js";

/** Stores a report as the API would, at a chosen time (report retention is about age). */
export async function recordReportForTest(s: TestServer, host: string, report: Report, kind: "report" | "heartbeat", at: number): Promise<void> {
  await recordReport(s.server.ctx.db, host, report, kind, at);
}
