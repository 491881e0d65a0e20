import { UsageError } from "../core/errors.js";
import type { ManifestBody } from "../manifest/index.js";

/** How long a published manifest may be acted on unless told otherwise: a week. */
export const DEFAULT_VALIDITY_MS = 7 * 24 * 3_600_000;
/** Shorter than the clock skew readers tolerate would expire on arrival. */
export const MIN_VALIDITY_MS = 10 * 60_000;
export const MAX_VALIDITY_MS = 366 * 24 * 3_600_000;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 24 * 3_600_000, w: 7 * 24 * 3_600_000 };

/** `--valid-for`: a whole number and a unit, `90m`, `12h`, `7d`, `2w` (or seconds, `3600s`). */
export function parseValidity(text: string): number {
  const m = /^([1-9][0-9]{0,6})([smhdw])$/.exec(text.trim());
  const ms = m ? Number(m[1]) * (UNIT_MS[m[2] as string] as number) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < MIN_VALIDITY_MS || ms > MAX_VALIDITY_MS) {
    throw new UsageError(
      `${JSON.stringify(text.slice(0, 40))} is not a validity between 10m and 366d`,
      "give a whole number and a unit: 90m, 12h, 7d, 2w; machines refuse the manifest after that unless a newer one (or `oscd publish --refresh`) reaches them",
      "bad-validity",
    );
  }
  return ms;
}

export function expiryFrom(now: Date, validForMs: number): string {
  return new Date(now.getTime() + validForMs).toISOString();
}

/** True when a manifest has no expiry, or less than half of a validity left: publishing the same content writes it again. */
export function needsRefresh(m: Pick<ManifestBody, "expiresAt">, now: Date, validForMs: number): boolean {
  if (m.expiresAt === undefined) return true;
  const left = Date.parse(m.expiresAt) - now.getTime();
  return !(left >= validForMs / 2);
}
