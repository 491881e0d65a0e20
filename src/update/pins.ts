import { type Pin, type Pins } from "../builder/index.js";
import { remoteHead, type GitCallOptions } from "../git/index.js";

/** The pins with the named entries (all when none) moved to their remote ref's current commit. */
export async function updatePins(pins: Pins, names: readonly string[], git: GitCallOptions = {}): Promise<Pins> {
  const out: Pins = Object.assign(Object.create(null) as Pins, pins);
  for (const name of names.length > 0 ? names : Object.keys(pins)) {
    const p = pins[name] as Pin;
    out[name] = { ...p, rev: await remoteHead(p.url, p.ref ?? "HEAD", git) };
  }
  return out;
}
