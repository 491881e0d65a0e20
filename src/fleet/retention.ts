import { z } from "zod";

/**
 * How many system generations a machine keeps (`retention` in machine.toml, the agent's
 * configuration and the NixOS module). A generation is kept when either rule holds: it is one of
 * the newest `keepGenerations`, or younger than `keepDays`. The running, booted, current and
 * previous-good generations are always kept (they count toward `keepGenerations`). Neither rule
 * set: nothing is removed. `collectGarbage` runs Nix's garbage collector afterwards, bounded by
 * `maxFreedMiB` when given.
 */
export const retentionSchema = z
  .object({
    keepGenerations: z.number().int().min(1).max(100_000).optional(),
    keepDays: z.number().min(0).max(36_500).optional(),
    collectGarbage: z.boolean().default(false),
    maxFreedMiB: z.number().int().min(1).max(1 << 30).optional(),
  })
  .strict();
export type RetentionPolicy = z.infer<typeof retentionSchema>;

/** True when the policy removes anything at all. */
export function retentionActive(p: RetentionPolicy | undefined): p is RetentionPolicy {
  return p !== undefined && (p.keepGenerations !== undefined || p.keepDays !== undefined);
}
