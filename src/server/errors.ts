import { OscdError } from "../core/errors.js";

/**
 * An error the API answers with: an HTTP status plus oscd's stable code and one-line message.
 * Every refusal goes through here so clients (agents, the CLI, the dashboard) see one shape:
 * `{ "error": { "code", "message" } }`.
 */
export class HttpError extends OscdError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    hint?: string,
  ) {
    super(code, message.replace(/[\r\n\u2028\u2029]+/g, " "), { hint });
  }
}

export const unauthorized = (why: string) => new HttpError(401, "unauthorized", why, "send `Authorization: Bearer <token>` with a token from `oscd server token create`");
export const forbidden = (why: string) => new HttpError(403, "forbidden", why);
export const notFound = (what: string) => new HttpError(404, "not-found", `${what} not found`);
export const badRequest = (code: string, why: string) => new HttpError(400, code, why);
export const conflict = (code: string, why: string) => new HttpError(409, code, why);

/** A query parameter that must be a whole number (`?limit=`, `?before=`): absent is undefined. */
export function wholeQuery(raw: string | undefined, what: string, code: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw badRequest(code, `?${what}= takes a whole number`);
  return Number(raw);
}
