import { readdir } from "node:fs/promises";
import { addRoot, listGenerations, removeRoot } from "../nix/index.js";
import { symlinkAtomic } from "../core/atomic.js";
import { recordAppliedSequence } from "./channels.js";
import type { Journal } from "./journal.js";
import { files, type HostLayout } from "./layout.js";
import { forgetFailed, writeGenerationRecord } from "./records.js";

/**
 * Makes a verified deployment permanent: the generation's record, the source link at a fixed
 * place with a GC root per generation (so the exact configuration of every generation can
 * be found again), and the pending root dropped. Idempotent.
 */
export async function commitDeployment(layout: HostLayout, j: Journal): Promise<void> {
  const src = j.release.sourcePath;
  if (j.generation !== undefined) {
    await writeGenerationRecord(layout, {
      generation: j.generation,
      toplevel: j.toplevel,
      deploymentId: j.id,
      mode: j.mode,
      createdAt: j.startedAt,
      version: j.release.version,
      commit: j.release.commit,
      ref: j.release.ref,
      tag: j.release.tag,
      sourcePath: src,
      channel: j.release.channel,
      sequence: j.release.sequence,
    });
    if (src) await addRoot(src, `generation-${j.generation}-source`, layout.gcrootDir);
  } else if (j.mode === "test") {
    // Not in a profile: keep the tested system (and its source) alive while it runs.
    await addRoot(j.toplevel, "test-system", layout.gcrootDir);
    if (src) await addRoot(src, "test-source", layout.gcrootDir);
  }
  if (src && j.mode !== "boot") await symlinkAtomic(src, files(layout).source);
  if (j.release.channel !== undefined && j.release.sequence !== undefined) await recordAppliedSequence(layout, j.release.channel, j.release.sequence, j.toplevel, j.release.epoch);
  await forgetFailed(layout, j.toplevel);
  await removeRoot(`pending-${j.id}`, layout.gcrootDir);
  await dropStaleSourceRoots(layout);
}

/** Source roots of generations that were deleted keep nothing alive that anyone can use. */
async function dropStaleSourceRoots(layout: HostLayout): Promise<void> {
  let names: string[] = [];
  try {
    names = await readdir(layout.gcrootDir);
  } catch {
    return;
  }
  const sources = names.filter((n) => /^generation-\d+-source$/.test(n));
  // Hosts fed by manifests have no source roots: their generations need not be listed.
  if (sources.length === 0) return;
  const live = new Set((await listGenerations(layout.profile)).map((g) => g.number));
  for (const n of sources) {
    if (!live.has(Number(/\d+/.exec(n)?.[0]))) await removeRoot(n, layout.gcrootDir);
  }
}
