/**
 * The server's young generation, held at a floor. V8 shrinks a process's young generation to
 * 1 MB after about 100 s with little allocation, and a fleet long-polling with long holds is
 * exactly that. The next wave (thousands of answers and as many renewed long-polls within a
 * second) then runs through a scavenge every few hundred requests, each promoting the requests
 * still in flight into the old generation, which then needs full collections too. Measured with
 * 10,000 agents on two servers after 240 s of quiet: the wave cost the servers 2.6–3.7 s of
 * user CPU, against 1.4 s with this floor (docs/BENCHMARKS.md).
 *
 * V8 reads the floor only as it starts (`v8.setFlagsFromString` later has no effect on it), so
 * `oscd server` starts itself again with it: `process.execve` keeps the pid, the open
 * descriptors and the environment, and runs before anything is listening. A floor the operator
 * gave (`node --min-semi-space-size=N …`) is kept; a Node without `process.execve` (before 22.15)
 * runs without one.
 */
export const YOUNG_GENERATION_FLOOR = "--min-semi-space-size=16";

/** Starts this process again with the floor when it has none, and returns only when it does not. */
export function startWithYoungGenerationFloor(): void {
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  if (typeof execve !== "function") return;
  if (process.execArgv.some((a) => /^--min[-_]semi[-_]space[-_]size\b/.test(a))) return;
  const script = process.argv[1];
  if (script === undefined) return;
  execve.call(process, process.execPath, [process.execPath, YOUNG_GENERATION_FLOOR, ...process.execArgv, script, ...process.argv.slice(2)], process.env);
}
