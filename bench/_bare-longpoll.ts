/**
 * The fleet bench's baseline: the least a Node server can do for the same agents, with nothing
 * of oscd in it (no tokens, no database, no signatures, no per-host answers). A bare `node:http`
 * server speaking the agent's protocol: conditional GETs answered 200 with a body the size of a
 * host view, or held until `?wait=` ends (304) or a release is made; reports acknowledged 201
 * and forgotten. `POST /release` makes the next release and answers every held request with it.
 *
 *   node --import tsx bench/_bare-longpoll.ts PORT HOLD_SECONDS     (prints "listening" when up)
 *
 * Run by bench/fleet.ts in a process of its own, measured like `oscd server`.
 */
import { createServer, type ServerResponse } from "node:http";

const port = Number(process.argv[2]);
const hold = String(process.argv[3] ?? "55");
let sequence = 1;
// A signed host view of a 10,000-host release is ~570 bytes: the same size, so the same bytes move.
const bodyOf = (s: number) => Buffer.from(JSON.stringify({ schema: "bare", sequence: s, pad: "x".repeat(520) }));
let body = bodyOf(sequence);
let etag = `"bare-${sequence}"`;
const waiting = new Set<{ res: ServerResponse; timer: NodeJS.Timeout }>();
const headers = () => ({ etag, "cache-control": "no-store", "x-oscd-long-poll": "1", "x-oscd-long-poll-seconds": hold });
const send = (res: ServerResponse) => res.writeHead(200, { ...headers(), "content-type": "application/json", "content-length": body.length }).end(body);

const server = createServer({ requestTimeout: 0, keepAliveTimeout: 65_000 }, (req, res) => {
  if (req.method === "POST") {
    req.resume();
    req.on("end", () => {
      if (req.url === "/release") {
        sequence++;
        body = bodyOf(sequence);
        etag = `"bare-${sequence}"`;
        for (const w of waiting) {
          clearTimeout(w.timer);
          send(w.res);
        }
        waiting.clear();
        res.writeHead(200).end();
      } else res.writeHead(201, { "content-type": "application/json" }).end('{"duplicate":false}');
    });
    return;
  }
  if (req.headers["if-none-match"] !== etag) return void send(res);
  const wait = Number(new URL(req.url ?? "/", "http://x").searchParams.get("wait") ?? 0);
  const w = {
    res,
    timer: setTimeout(() => {
      waiting.delete(w);
      res.writeHead(304, headers()).end();
    }, wait * 1000),
  };
  waiting.add(w);
  // The agent went away (or the answer was sent): nothing more to do for it.
  res.on("close", () => {
    clearTimeout(w.timer);
    waiting.delete(w);
  });
});
server.listen({ port, host: "127.0.0.1", backlog: 4096 }, () => console.log("listening"));
process.on("SIGTERM", () => process.exit(0));
