/**
 * The cycle timer. The first cycle waits for the next multiple of `startTime` milliseconds since
 * the Unix epoch, then one `interval` more; later ticks follow every `interval`. A tick that
 * arrives while a cycle runs is skipped and logged, never queued.
 */
import type { Logger } from "../logging.ts";
import type { Clock } from "../pipeline/target.ts";
import { CycleBusyError, type CycleLock } from "./cycle-lock.ts";

export interface SchedulerOptions {
  readonly interval: number;
  readonly startTime: number;
  readonly clock: Clock;
  readonly lock: CycleLock;
  readonly logger: Logger;
  /** Runs one cycle; must not throw (the caller logs failures). */
  readonly onTick: () => Promise<void>;
  /** Called for each tick skipped because a cycle was running. */
  readonly onSkip?: () => void;
}

/** Returns milliseconds from `now` until the next multiple of `startTime`; a full period when `now` is on one. */
export function startDelay(now: number, startTime: number): number {
  return startTime - (now % startTime);
}

export class Scheduler {
  private timer: Timer | undefined;
  private stopped = false;
  private nextTickAt = 0;

  constructor(private readonly options: SchedulerOptions) {}

  /** Time of the next tick in milliseconds since the epoch. */
  get nextTick(): number {
    return this.nextTickAt;
  }

  /** Starts the timer; returns the time of the first tick in milliseconds since the epoch. */
  start(): number {
    const { clock, interval, startTime } = this.options;
    const now = clock.now();
    this.nextTickAt = now + startDelay(now, startTime) + interval;
    this.arm();
    return this.nextTickAt;
  }

  /** Stops the timer. Idempotent; a running cycle is not touched here. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.stopped) return;
    const delay = Math.max(0, this.nextTickAt - this.options.clock.now());
    this.timer = setTimeout(() => this.tick(), delay);
  }

  private tick(): void {
    if (this.stopped) return;
    const { interval, lock, logger, onTick } = this.options;
    // Ticks stay on the original grid, and ticks missed while the process was paused are dropped.
    const now = this.options.clock.now();
    do this.nextTickAt += interval;
    while (this.nextTickAt <= now);
    this.arm();

    lock.tryRun(onTick).catch((error: unknown) => {
      if (error instanceof CycleBusyError) {
        logger.warn("skipped a timer tick because the previous cycle is still running", { interval });
        this.options.onSkip?.();
        return;
      }
      logger.error("cycle runner failed", { error: (error as Error).message });
    });
  }
}
