import { advance, closeJournal, readJournal, TERMINAL, type Journal } from "./journal.js";
import type { HostLayout } from "./layout.js";
import { rememberFailed } from "./records.js";

export interface Recovery {
  id: string;
  toplevel: string;
  /** The state the crash left it in. */
  interruptedAt: string;
  outcome: "aborted" | "rolled-back" | "committed";
}

/**
 * Finishes a deployment that a crash interrupted, so the host is on a whole generation:
 * before the profile changed it is dropped; between profile and verified health it is rolled
 * back; after health passed it is committed. Called under the host lock at every start.
 */
export async function recoverInterrupted(layout: HostLayout, log: (line: string) => void = () => undefined): Promise<Recovery | undefined> {
  const j = await readJournal(layout);
  if (!j) return undefined;
  const interruptedAt = j.state;
  if (TERMINAL.includes(j.state)) {
    // Finished, but killed before the journal moved to the history.
    await closeJournal(layout, { ...j, recovered: true });
    return { id: j.id, toplevel: j.toplevel, interruptedAt, outcome: j.state as Recovery["outcome"] };
  }
  log(`deployment ${j.id} of ${j.toplevel} was interrupted at "${interruptedAt}"; finishing it`);
  // What finishing takes (Nix, the commit, the restore) is loaded only now: nearly every start
  // of the engine has nothing to recover and should not pay for it.
  const [{ removeRoot }, { commitDeployment }, { restorePrevious }] = await Promise.all([import("../nix/index.js"), import("./commit.js"), import("./restore.js")]);
  const done = (outcome: Recovery["outcome"]): Recovery => ({ id: j.id, toplevel: j.toplevel, interruptedAt, outcome });
  const marked: Journal = { ...j, recovered: true };
  switch (j.state) {
    case "locked":
    case "realised":
    case "guarded": {
      // The profile may have been set just before the crash, without the journal saying so.
      await undoUnjournaledProfile(layout, marked);
      await removeRoot(`pending-${j.id}`, layout.gcrootDir);
      await closeJournal(layout, await advance(layout, marked, "aborted", { error: `interrupted at ${interruptedAt}`, errorCode: "interrupted", interrupted: true }));
      return done("aborted");
    }
    case "checked":
    case "committed": {
      await commitDeployment(layout, marked);
      await closeJournal(layout, await advance(layout, marked, "committed"));
      return done("committed");
    }
    default: {
      // A crash of oscd is not the release's fault: it is rolled back (health was never
      // confirmed) but not remembered as failed, so it can be tried again without a flag. Only a
      // deployment that had already failed (a crash during its rollback) carries an error; one
      // whose recovery was itself interrupted is still only interrupted.
      const failed = j.interrupted ? undefined : j.error;
      const rolling = await advance(layout, marked, "rolling-back", {
        error: failed ?? `interrupted at ${interruptedAt}`,
        errorCode: failed === undefined ? "interrupted" : j.errorCode,
        interrupted: failed === undefined ? true : undefined,
      });
      await restorePrevious(layout, rolling, log);
      if (failed !== undefined) await rememberFailed(layout, rolling, failed);
      await closeJournal(layout, await advance(layout, rolling, "rolled-back"));
      return done("rolled-back");
    }
  }
}

async function undoUnjournaledProfile(layout: HostLayout, j: Journal): Promise<void> {
  if (j.mode !== "switch" && j.mode !== "boot") return;
  const { currentGeneration, deleteGenerations, switchGeneration } = await import("../nix/index.js");
  const cur = await currentGeneration(layout.profile);
  if (!cur || cur.number === j.previous.generation || cur.number < (j.previous.generation ?? 0)) return;
  if (j.previous.generation !== undefined) {
    await switchGeneration(j.previous.generation, layout.profile);
    if (cur.storePath === j.toplevel) await deleteGenerations({ numbers: [cur.number] }, layout.profile);
  }
}
