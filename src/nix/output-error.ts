import type { ZodError } from "zod";
import { OscdError } from "../core/errors.js";
import { quoteUntrusted } from "./untrusted.js";
import { describeNix, SUPPORTED_NIX, type NixVersion } from "./version.js";

/**
 * Nix printed something oscd does not know how to read: a shape no Nix release it supports
 * documents. Named, with the command and the Nix version, so the report says where to look;
 * never passed on as an internal error.
 */
export class NixOutputUnrecognisedError extends OscdError {
  constructor(
    readonly command: string,
    readonly version: NixVersion | undefined,
    detail: string,
  ) {
    super("nix-output-unrecognised", `cannot read what \`${command}\` printed on ${describeNix(version)}: ${detail}`, {
      hint: `oscd reads the output of ${SUPPORTED_NIX}; run the command by hand to see its output, and report it with \`oscd --version --verbose\``,
    });
  }
}

/** The first problem zod found, as one short phrase. */
export function zodProblem(e: ZodError): string {
  const issue = e.issues[0];
  if (!issue) return "unexpected shape";
  const where = issue.path.length > 0 ? ` at ${issue.path.map((p) => quoteUntrusted(String(p), 80)).join(".")}` : "";
  return `${issue.message}${where}`;
}

/** JSON.parse, or the typed error naming the command. */
export function parseNixJsonText(command: string, version: NixVersion | undefined, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const first = text.trim().split("\n")[0] ?? "";
    throw new NixOutputUnrecognisedError(command, version, first === "" ? "it printed nothing" : `not JSON: ${quoteUntrusted(first, 80)}`);
  }
}
