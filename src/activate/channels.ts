import { OscdError } from "../core/errors.js";
import { readJson, writeJsonAtomic } from "../core/atomic.js";
import { files, type HostLayout } from "./layout.js";

/** Per channel, the last signed manifest this host applied: replay protection survives restarts. */
export interface AppliedChannel {
  sequence: number;
  toplevel: string;
  appliedAt: string;
  /**
   * The channel's sequence epoch in the trust root when this was applied (src/trust): after a
   * release key is removed, sequences from an earlier epoch no longer hold the channel, so a
   * huge sequence signed by a leaked key cannot lock it (fast-forward). Absent: no epoch.
   */
  epoch?: string;
}

type Applied = Record<string, AppliedChannel>;

async function readApplied(layout: HostLayout): Promise<Applied> {
  const path = files(layout).channels;
  const raw = await readJson<unknown>(path);
  if (raw === undefined) return {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw corrupt(path, "not an object");
  // A null prototype: a channel named like an Object method ("toString") is just a key.
  const out: Applied = Object.create(null) as Applied;
  for (const [channel, v] of Object.entries(raw)) {
    const e = v as Partial<AppliedChannel> | null;
    if (!e || typeof e !== "object" || !Number.isSafeInteger(e.sequence) || typeof e.toplevel !== "string" || typeof e.appliedAt !== "string" || (e.epoch !== undefined && typeof e.epoch !== "string")) throw corrupt(path, `the entry of channel ${JSON.stringify(channel)} is damaged`);
    out[channel] = e as AppliedChannel;
  }
  return out;
}

function corrupt(path: string, detail: string): OscdError {
  // Refusing is the safe side: a damaged record must not reset replay protection to zero.
  return new OscdError("state-corrupt", `${path}: ${detail}`, { hint: "oscd writes this file atomically, so something else changed it; restore it (the sequences are in /var/lib/oscd/history) before deploying from a channel", exitCode: 3 });
}

/**
 * The last sequence this host applied from `channel` in sequence epoch `epoch`, or undefined
 * when it applied none there (a record of another epoch does not hold the channel).
 */
export async function lastAppliedSequence(layout: HostLayout, channel: string, epoch?: string): Promise<number | undefined> {
  const applied = await readApplied(layout);
  const e = Object.hasOwn(applied, channel) ? applied[channel] : undefined;
  return e && e.epoch === epoch ? e.sequence : undefined;
}

/** Records a committed deployment's channel sequence; never lowers it within an epoch. Atomic (temp file, rename). */
export async function recordAppliedSequence(layout: HostLayout, channel: string, sequence: number, toplevel: string, epoch?: string): Promise<void> {
  const applied = await readApplied(layout);
  const prev = Object.hasOwn(applied, channel) ? applied[channel] : undefined;
  if (prev && prev.epoch === epoch && prev.sequence >= sequence) return;
  applied[channel] = { sequence, toplevel, appliedAt: new Date().toISOString(), ...(epoch !== undefined ? { epoch } : {}) };
  await writeJsonAtomic(files(layout).channels, { ...applied });
}
