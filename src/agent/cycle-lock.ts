/**
 * The one-cycle-at-a-time rule shared by the timer and the REST API: at most one pipeline runs,
 * whoever started it.
 */

export class CycleBusyError extends Error {
  constructor() {
    super("another autoscaling cycle is running");
    this.name = "CycleBusyError";
  }
}

export class CycleLock {
  private running: Promise<unknown> | undefined;

  /** Reports whether a cycle is running now. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Runs `task` if no cycle is running, else throws CycleBusyError without running it. */
  async tryRun<T>(task: () => Promise<T>): Promise<T> {
    if (this.running !== undefined) throw new CycleBusyError();
    const promise = task();
    this.running = promise;
    try {
      return await promise;
    } finally {
      this.running = undefined;
    }
  }

  /** Resolves once the running cycle, if any, has finished (successfully or not). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running.catch(() => {});
  }
}
