import { join } from "node:path";
import type { Operation } from "../fleet/index.js";
import { readJson, removeFile, writeJsonAtomic } from "../core/atomic.js";
import { files, type HostLayout } from "./layout.js";

/** What a deployment is about: the release it carries, when it came from oscd's sources. */
export interface ReleaseInfo {
  version?: string;
  commit?: string;
  ref?: string;
  tag?: string;
  /** Read-only source snapshot that built the toplevel, and its GC root name. */
  sourcePath?: string;
  /**
   * The signed channel manifest this release came from, and its sequence: the guard refuses a
   * sequence not newer than the last one this host applied from the channel, and committing
   * records it (`channels.json`).
   */
  channel?: string;
  sequence?: number;
  /** The channel's sequence epoch in the trust root the manifest was checked with (src/trust). */
  epoch?: string;
}

/** The system before the deployment: what to go back to. */
export interface Previous {
  generation?: number;
  profileToplevel?: string;
  currentSystem?: string;
}

export type JournalState =
  | "locked"
  | "realised"
  | "guarded"
  | "profile-set"
  | "switched"
  | "checked"
  | "committed"
  | "rolling-back"
  | "rolled-back"
  | "aborted";

export interface Journal {
  id: string;
  toplevel: string;
  mode: Operation;
  host: string;
  release: ReleaseInfo;
  previous: Previous;
  /** The profile generation this deployment created (switch and boot). */
  generation?: number;
  state: JournalState;
  startedAt: string;
  updatedAt: string;
  error?: string;
  /**
   * The typed code of what ended it (`confirm-timeout`, `health-failed`, `switch-failed`, a
   * guard's refusal, …), next to `error`'s words, so the history, `oscd status` and the reports
   * say why by code, not only in a sentence.
   */
  errorCode?: string;
  /** Set when a later start finished this deployment after a crash. */
  recovered?: boolean;
  /** Ended by a crash of oscd, not by a fault of the release (which may be tried again). */
  interrupted?: boolean;
  steps: { state: JournalState; at: string }[];
}

export const TERMINAL: readonly JournalState[] = ["committed", "rolled-back", "aborted"];

export function newJournal(fields: Pick<Journal, "toplevel" | "mode" | "host" | "release" | "previous">): Journal {
  const now = new Date().toISOString();
  // Millisecond time first: history files sort by name in the order deployments started.
  // No steps yet: the engine's first advance ("locked") writes the journal.
  return { id: `${now.replace(/[-:.TZ]/g, "").slice(0, 17)}-${process.getBuiltinModule("node:crypto").randomBytes(3).toString("hex")}`, ...fields, state: "locked", startedAt: now, updatedAt: now, steps: [] };
}

export async function readJournal(layout: HostLayout): Promise<Journal | undefined> {
  return readJson<Journal>(files(layout).journal);
}

/** What recovery (recover.ts) does with a journal a crash left in each state of the way forward. */
const RECOVERY: Partial<Record<JournalState, "abort" | "roll back" | "commit">> = {
  locked: "abort",
  realised: "abort",
  guarded: "abort",
  "profile-set": "roll back",
  switched: "roll back",
  checked: "commit",
  committed: "commit",
};

/**
 * Records a state change before the engine acts on it: always atomically (a killed oscd finds
 * the old state or the new), and flushed to disk when recovery depends on it. A state that
 * recovery treats like the one before it (realised and guarded like locked: abort; switched like
 * profile-set: roll back; committed like checked: commit) is not flushed: a power loss that drops
 * it leaves the one before, whose recovery is the same.
 */
export async function advance(layout: HostLayout, j: Journal, state: JournalState, patch: Partial<Journal> = {}): Promise<Journal> {
  const at = new Date().toISOString();
  const next: Journal = { ...j, ...patch, state, updatedAt: at, steps: [...j.steps, { state, at }] };
  await writeJsonAtomic(files(layout).journal, next, 0o644, { durable: needsFlush(j, state) });
  return next;
}

/** Whether writing `state` after journal `j` must reach the disk before the engine goes on. */
export function needsFlush(j: Pick<Journal, "state" | "steps">, state: JournalState): boolean {
  const first = j.steps.length === 0;
  return first || RECOVERY[state] === undefined || RECOVERY[state] !== RECOVERY[j.state];
}

/** Moves a finished journal into the history (one file per deployment) and clears it. */
export async function closeJournal(layout: HostLayout, j: Journal): Promise<void> {
  await writeJsonAtomic(join(files(layout).history, `${j.id}.json`), j);
  await removeFile(files(layout).journal);
}
