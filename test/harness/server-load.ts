import http from "node:http";

/**
 * Load for the control server: many simulated agents over keep-alive HTTP (node:http, not
 * fetch, whose per-request cost would measure the client rather than the server).
 */
export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export function httpClient(base: string, maxSockets: number) {
  const u = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  const request = (method: string, path: string, headers: Record<string, string>, body?: string): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: u.hostname, port: u.port, method, path, agent, headers: body === undefined ? headers : { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.setTimeout(60_000, () => req.destroy(new Error("timeout")));
      req.end(body);
    });
  return { request, close: () => agent.destroy() };
}

export interface AgentLoadResult {
  /** Report ids the server acknowledged (201 first time, 200 duplicate on a resend). */
  acknowledged: Set<string>;
  /** 201 answers per id: must be exactly 1 each. */
  created: Map<string, number>;
  /** Ids acknowledged only after an attempt failed (an answer lost: the retry may see 200 duplicate). */
  ackedAfterError: Set<string>;
  resends: number;
  errors: number;
  /** The first few errors, for the log. */
  errorSamples: string[];
  requests: number;
  seconds: number;
}

/**
 * `tokens.length` agents report as fast as the server lets them until `durationMs` passes.
 * Like the agent's outbox, each retries a report until acknowledged and now and then sends an
 * acknowledged one again (an answer lost on the way): the server must record each once.
 */
export async function agentsReporting(base: string, tokens: readonly { host: string; token: string }[], durationMs: number, resendEvery = 10): Promise<AgentLoadResult> {
  const client = httpClient(base, tokens.length);
  const r: AgentLoadResult = { acknowledged: new Set(), created: new Map(), ackedAfterError: new Set(), resends: 0, errors: 0, errorSamples: [], requests: 0, seconds: 0 };
  const start = Date.now();
  const deadline = start + durationMs;
  await Promise.all(
    tokens.map(async ({ host, token }, a) => {
      let n = 0;
      let last: string | undefined;
      while (Date.now() < deadline) {
        const resend = last !== undefined && (n + a) % resendEvery === 0;
        const id = resend ? (last as string) : `${host}-${++n}`;
        if (resend) r.resends++;
        let acked = false;
        let erred = false;
        // Retried until acknowledged, as the outbox does, even past the deadline.
        for (let attempt = 0; !acked && attempt < 20; attempt++) {
          r.requests++;
          try {
            const res = await client.request("POST", "/api/v1/reports", { authorization: `Bearer ${token}` }, JSON.stringify({ id, status: "success", version: "1.0.1", generation: n }));
            if (res.status === 201) r.created.set(id, (r.created.get(id) ?? 0) + 1);
            if (res.status === 201 || res.status === 200) acked = true;
            else {
              erred = true;
              r.errors++;
              if (r.errorSamples.length < 5) r.errorSamples.push(`${res.status} ${res.body.slice(0, 200)}`);
            }
          } catch (e) {
            erred = true;
            r.errors++;
            if (r.errorSamples.length < 5) r.errorSamples.push(String((e as Error).message));
          }
        }
        if (acked) r.acknowledged.add(id);
        if (acked && erred) r.ackedAfterError.add(id);
        last = id;
        if (resend) n++;
      }
    }),
  );
  r.seconds = (Date.now() - start) / 1000;
  client.close();
  return r;
}
