/**
 * Step boundaries of the engine. Tests set OSCD_FAULT_KILL_AT to one of them and the process
 * kills itself with SIGKILL there, to prove recovery from a crash at every boundary.
 */
export const BOUNDARIES = ["locked", "realised", "guarded", "profile-set", "switched", "checked", "committed", "rolling-back"] as const;
export type Boundary = (typeof BOUNDARIES)[number];

export function maybeCrash(at: Boundary): void {
  if (process.env.OSCD_FAULT_KILL_AT === at) process.kill(process.pid, "SIGKILL");
}
