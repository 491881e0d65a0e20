import { SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver } from "kysely";

/**
 * SQLite has one connection. Kysely's lock on it is not first come, first served: releasing it
 * wakes every waiter and whichever runs first wins, so a steady stream of requests can hold one
 * back for as long as the stream lasts. This driver hands the connection out in arrival order
 * (kysely's own lock is then always free).
 */
export class FifoLock {
  private busy = false;
  private readonly waiting: (() => void)[] = [];

  async lock(): Promise<void> {
    if (!this.busy) {
      this.busy = true;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  unlock(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  }
}

class FairSqliteDriver extends SqliteDriver {
  private readonly fifo = new FifoLock();

  override async acquireConnection(): Promise<DatabaseConnection> {
    await this.fifo.lock();
    try {
      return await super.acquireConnection();
    } catch (e) {
      this.fifo.unlock();
      throw e;
    }
  }

  override async releaseConnection(): Promise<void> {
    try {
      await super.releaseConnection();
    } finally {
      this.fifo.unlock();
    }
  }
}

export class FairSqliteDialect extends SqliteDialect {
  constructor(private readonly fairConfig: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(fairConfig);
  }

  override createDriver(): Driver {
    return new FairSqliteDriver(this.fairConfig);
  }
}
