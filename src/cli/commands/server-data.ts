import type { Command } from "commander";
import { backupDatabase, restoreDatabase } from "../../server/index.js";
import { formatBytes, printJson } from "../output.js";

/** `oscd server backup FILE` and `oscd server restore FILE` (SQLite; PostgreSQL: pg_dump and pg_restore). */
export function registerServerData(server: Command): void {
  server
    .command("backup")
    .argument("<file>", "where the copy goes (a new file)")
    .description("copy the server's SQLite database with SQLite's online backup, consistent while the server runs (PostgreSQL: use pg_dump)")
    .option("--force", "replace FILE if it exists")
    .addHelpText("after", "\nExamples:\n  oscd server backup /var/backups/oscd/server-$(date +%F).db\n  oscd server backup --db sqlite:/srv/oscd/server.db /mnt/backup/oscd.db --force\n")
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ db: string; force?: boolean; json?: boolean }>();
      const r = await backupDatabase(o.db, file, { force: o.force });
      if (o.json) printJson(r);
      else process.stdout.write(`backed up to ${r.file} (${formatBytes(r.bytes)}, schema ${r.schemaVersion})\n`);
    });
  server
    .command("restore")
    .argument("<file>", "a file written by oscd server backup")
    .description("put a backup in place of the server's SQLite database (checked first; the server must be stopped)")
    .option("--force", "replace an existing database")
    .addHelpText("after", "\nExamples:\n  systemctl stop oscd-server\n  oscd server restore /var/backups/oscd/server-2026-11-21.db --force\n  systemctl start oscd-server\n")
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ db: string; force?: boolean; json?: boolean }>();
      const r = await restoreDatabase(file, o.db, { force: o.force });
      if (o.json) printJson(r);
      else process.stdout.write(`restored ${file} into ${r.db} (schema ${r.schemaVersion}; newer migrations run when the server starts)\n`);
    });
}
