import type { ServerClient } from "./request.js";

/**
 * The server's change notices (`GET /api/v1/events`, server-sent events): `onChange` is called
 * with each topic (`rollouts`, `hosts`, `releases`, `channel`, …) until `signal` aborts. A lost
 * stream is opened again after a second; `onConnected` says when it is (re)opened, so the
 * caller can read what it may have missed meanwhile.
 */
export async function followChanges(client: ServerClient, onChange: (topic: string) => void, signal: AbortSignal, onConnected: () => void = () => undefined): Promise<void> {
  while (!signal.aborted) {
    try {
      const res = await client.send("GET", "/api/v1/events", { timeoutMs: 0, signal });
      if (res.status !== 200 || !res.body) {
        // A refusal (401/403) will not change by retrying fast: read it as the request API does.
        await res.body?.cancel();
        await client.request("GET", "/api/v1/events", { timeoutMs: 10_000 });
        throw new Error(`events answered ${res.status}`);
      }
      onConnected();
      const dec = new TextDecoder();
      let buf = "";
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true });
        const parts = buf.split("\n\n");
        buf = parts.pop() ?? "";
        for (const p of parts) {
          const data = /^data: (.*)$/m.exec(p)?.[1];
          if (!/^event: change$/m.test(p) || !data) continue;
          try {
            onChange(String((JSON.parse(data) as { topic?: unknown }).topic ?? ""));
          } catch {
            onChange("");
          }
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      if ((e as { code?: string }).code === "server-refused") throw e;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
