/**
 * The one-cycle-at-a-time rule shared by the timer and the REST API: at most one pipeline runs,
 * whether the timer or an API call started it. The timer never waits for the lock, but API calls
 * may wait a bounded time.
 */

export class CycleBusyError extends Error {
  constructor(message = "another autoscaling cycle is running") {
    super(message);
    this.name = "CycleBusyError";
  }
}

export class CycleLock {
  private running: Promise<unknown> | undefined;
  private readonly waiters: (() => void)[] = [];
  /** True between waking a waiter and that waiter starting its task. */
  private handedOver = false;

  /** Reports whether a cycle is running now or about to start. */
  get busy(): boolean {
    return this.running !== undefined || this.handedOver;
  }

  private get free(): boolean {
    return !this.busy && this.waiters.length === 0;
  }

  /** Runs `task` if no cycle is running and no call is waiting, else throws CycleBusyError without running it. */
  async tryRun<T>(task: () => Promise<T>): Promise<T> {
    if (!this.free) throw new CycleBusyError();
    return this.execute(task);
  }

  /**
   * Runs `task` once the lock is free, waiting in arrival order for at most `waitMs`; throws
   * CycleBusyError when the wait runs out.
   */
  async run<T>(task: () => Promise<T>, waitMs: number): Promise<T> {
    if (this.free) return this.execute(task);
    await new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(wake);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new CycleBusyError(`another autoscaling cycle kept running for more than ${waitMs} ms`));
      }, waitMs);
      this.waiters.push(wake);
    });
    return this.execute(task);
  }

  /** Resolves once the running cycle, if any, has finished (successfully or not). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running.catch(() => {});
  }

  private async execute<T>(task: () => Promise<T>): Promise<T> {
    this.handedOver = false;
    const promise = task();
    this.running = promise;
    try {
      return await promise;
    } finally {
      this.running = undefined;
      // Hand the lock straight to the next waiter, so the timer cannot slip in between.
      const next = this.waiters.shift();
      if (next !== undefined) {
        this.handedOver = true;
        next();
      }
    }
  }
}
