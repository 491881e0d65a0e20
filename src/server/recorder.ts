import type { Transaction } from "kysely";
import type { Database } from "./db/schema.js";

/** Writes one audit record (audit.ts) inside the transaction of the change it describes. */
export type Recorder = (trx: Transaction<Database>) => Promise<void>;
