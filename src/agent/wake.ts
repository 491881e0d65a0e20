/** A sleep that ends early when someone calls `fire()` (a fetch request, a file event, a stop). */
export class Wake {
  private waiters = new Set<() => void>();
  private pending = false;

  fire(): void {
    this.pending = true;
    for (const w of this.waiters) w();
  }

  /** Waits up to `ms`; returns at once if fired since the last wait. */
  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.waiters.add(done);
    });
  }
}
