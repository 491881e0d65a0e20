import { currentGeneration, deleteGenerations, listGenerations, switchGeneration, removeRoot } from "../nix/index.js";
import type { Journal } from "./journal.js";
import { files, type HostLayout } from "./layout.js";
import { switchTo } from "./switch.js";
import { readLinkOrUndefined } from "../core/fs.js";


/**
 * Puts the host back on the system it ran before the deployment: the previous generation
 * as profile (the failed one deleted, so it is neither the boot default nor the next
 * rollback target) and the previous system's switch-to-configuration. Idempotent, so a
 * crash in the middle is finished by running it again.
 */
export async function restorePrevious(layout: HostLayout, j: Journal, log: (line: string) => void): Promise<void> {
  const { previous, mode } = j;
  const f = files(layout);
  if (mode === "switch" || mode === "boot") {
    const cur = await currentGeneration(layout.profile);
    if (previous.generation !== undefined) {
      if (cur?.number !== previous.generation) {
        log(`profile back to generation ${previous.generation}`);
        await switchGeneration(previous.generation, layout.profile);
      }
      const failedGens = (await listGenerations(layout.profile)).filter((g) => g.number > (previous.generation ?? 0) && g.storePath === j.toplevel);
      if (failedGens.length > 0) await deleteGenerations({ numbers: failedGens.map((g) => g.number) }, layout.profile);
    }
  }
  const running = await readLinkOrUndefined(f.currentSystem);
  const hold = f.switchHold;
  if (mode === "switch") {
    if (previous.profileToplevel && previous.profileToplevel === previous.currentSystem) {
      log(`re-activating ${previous.profileToplevel}`);
      await switchTo(previous.profileToplevel, "switch", hold);
    } else {
      if (previous.profileToplevel) await switchTo(previous.profileToplevel, "boot", hold);
      if (previous.currentSystem && running !== previous.currentSystem) await switchTo(previous.currentSystem, "test", hold);
    }
  } else if (mode === "boot") {
    if (previous.profileToplevel) await switchTo(previous.profileToplevel, "boot", hold);
  } else if (mode === "test") {
    if (previous.currentSystem && running !== previous.currentSystem) {
      log(`re-activating ${previous.currentSystem}`);
      await switchTo(previous.currentSystem, "test", hold);
    }
  }
  await removeRoot(`pending-${j.id}`, layout.gcrootDir);
}
