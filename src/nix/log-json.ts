import { z } from "zod";
import { stripAnsi } from "./messages.js";

/**
 * Nix's `--log-format internal-json`: one `@nix {…}` object per stderr line, the same in every
 * release from 2.8 to 2.35 and in Lix (`action` start/stop/result/msg, activity and result
 * type numbers unchanged). Newer releases add fields (`raw_msg`, `line`, `column`, `file`,
 * `trace` on messages), which are ignored. A line that is not such an object is plain text.
 */
export const ACT = { copyPath: 100, fileTransfer: 101, realise: 102, copyPaths: 103, builds: 104, build: 105, substitute: 108 } as const;
export const RES = { buildLogLine: 101, untrustedPath: 102, corruptedPath: 103, setPhase: 104, progress: 105 } as const;

const event = z.discriminatedUnion("action", [
  z.object({ action: z.literal("msg"), level: z.number().optional(), msg: z.string() }).passthrough(),
  z.object({ action: z.literal("start"), id: z.number(), type: z.number(), level: z.number().optional(), text: z.string().optional(), parent: z.number().optional(), fields: z.array(z.unknown()).optional() }).passthrough(),
  z.object({ action: z.literal("stop"), id: z.number() }).passthrough(),
  z.object({ action: z.literal("result"), id: z.number(), type: z.number(), fields: z.array(z.unknown()).optional() }).passthrough(),
]);

export type NixLogEvent = z.infer<typeof event>;

/** The event a log line carries, or undefined for plain text (and for JSON of another shape). */
export function parseNixLogLine(line: string): NixLogEvent | undefined {
  const body = line.startsWith("@nix ") ? line.slice(5) : line.startsWith('{"action"') ? line : undefined;
  if (body === undefined) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return undefined;
  }
  const r = event.safeParse(doc);
  if (!r.success) return undefined;
  return r.data.action === "msg" ? { ...r.data, msg: stripAnsi(r.data.msg) } : r.data;
}

/** A field of a start or result event as a string, when it is one. */
function fields(e: NixLogEvent): unknown[] | undefined {
  return e.action === "start" || e.action === "result" ? e.fields : undefined;
}

export function fieldString(e: NixLogEvent, i: number): string | undefined {
  const v = fields(e)?.[i];
  return typeof v === "string" ? v : undefined;
}

export function fieldNumber(e: NixLogEvent, i: number): number | undefined {
  const v = fields(e)?.[i];
  return typeof v === "number" ? v : undefined;
}
