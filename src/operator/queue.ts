/**
 * A work queue of object keys (`namespace/name`). A key is queued at most once, is never handed to
 * two workers at the same time, and a key added while it is being processed runs again afterwards.
 * Failed keys come back after a per-key exponential delay.
 */

export interface WorkQueueOptions {
  /** Delay after the first failure of a key, doubled per further failure. Default 500 ms. */
  initialRetryMs?: number;
  /** Maximum delay between retries of a key. Default 60 s. */
  maxRetryMs?: number;
}

export class WorkQueue {
  private readonly order: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  /** Keys added while active; they are queued again by `done`. */
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly failures = new Map<string, number>();
  private readonly initialRetryMs: number;
  private readonly maxRetryMs: number;
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(options: WorkQueueOptions = {}) {
    this.initialRetryMs = options.initialRetryMs ?? 500;
    this.maxRetryMs = options.maxRetryMs ?? 60_000;
  }

  /** Number of keys waiting to be processed, not counting delayed ones. */
  get length(): number {
    return this.order.length;
  }

  /** Queues `key` now. Cancels a delayed add of the same key. */
  add(key: string): void {
    if (this.closed) return;
    this.cancelTimer(key);
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.order.push(key);
    this.wake?.();
  }

  /** Queues `key` after `delayMs`, unless an earlier delayed add of it is pending. */
  addAfter(key: string, delayMs: number): void {
    if (this.closed || this.timers.has(key)) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    this.timers.set(key, timer);
  }

  /** Queues `key` after its next retry delay and returns that delay in milliseconds. */
  retry(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const delayMs = Math.min(this.maxRetryMs, this.initialRetryMs * 2 ** Math.min(failures, 30));
    this.addAfter(key, delayMs);
    return delayMs;
  }

  /** Clears the failure count of `key`, so its next retry starts at the initial delay. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Resolves with the next key to process, or undefined once the queue is closed. */
  async next(): Promise<string | undefined> {
    while (!this.closed) {
      const key = this.order.shift();
      if (key !== undefined) {
        this.queued.delete(key);
        this.active.add(key);
        return key;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
    return undefined;
  }

  /** Marks `key` as processed; it is queued again if it was added in the meantime. */
  done(key: string): void {
    this.active.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  /** Stops handing out keys and cancels delayed adds. Pending `next` calls resolve with undefined. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.wake?.();
  }

  private cancelTimer(key: string): void {
    const timer = this.timers.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(key);
  }
}
