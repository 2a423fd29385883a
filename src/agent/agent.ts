/**
 * The long-running agent: the timer, the cycle with its deadline, error logging, and shutdown on
 * SIGTERM or SIGINT in any phase (start delay, running script, API call).
 */
import type { Config } from "../config/schema.ts";
import { cycleDeadlineMs } from "../config/schema.ts";
import { CycleAbortedError, CycleError, MethodError, errorMessage, findCause } from "../errors.ts";
import type { MethodRunner } from "../execute/index.ts";
import { truncate, type Logger } from "../logging.ts";
import { runCycle, type CycleResult, type KubernetesMetricsSource } from "../pipeline/cycle.ts";
import type { RunType } from "../pipeline/payloads.ts";
import { StabilizationWindow } from "../pipeline/scaling.ts";
import type { Clock, TargetApi } from "../pipeline/target.ts";
import { CycleLock } from "./cycle-lock.ts";
import { Scheduler } from "./scheduler.ts";

/** Receives the outcome of every cycle and skipped tick: metrics, events and health use it. */
export interface AgentObserver {
  cycleSucceeded?(event: { runType: RunType; dryRun: boolean; result: CycleResult; durationMs: number }): void;
  cycleFailed?(event: { runType: RunType; error: unknown; durationMs: number; consecutiveFailures: number }): void;
  tickSkipped?(reason: "busy" | "not-leader"): void;
}

/** Decides whether this agent may scale now; leader election implements it. */
export interface LeadershipGate {
  isLeader(): boolean;
  /** Aborts when the current leadership ends, so a cycle started as leader sends no late patch. */
  leadershipSignal(): AbortSignal | undefined;
}

export interface AgentDeps {
  readonly config: Config;
  readonly target: TargetApi;
  readonly runner: MethodRunner;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly kubernetesMetrics?: KubernetesMetricsSource;
  readonly observers?: readonly AgentObserver[];
  readonly gate?: LeadershipGate;
}

export interface CycleOptions {
  readonly dryRun?: boolean;
  readonly metricsOnly?: boolean;
}

/** Maximum time from a stop request to the end of `stop()`. */
export const SHUTDOWN_GRACE_MS = 1500;

export class Agent {
  readonly lock = new CycleLock();
  readonly window: StabilizationWindow;
  private readonly shutdown = new AbortController();
  private readonly scheduler: Scheduler;
  private consecutiveFailures = 0;

  constructor(private readonly deps: AgentDeps) {
    this.window = new StabilizationWindow(deps.config.downscaleStabilization);
    this.scheduler = new Scheduler({
      interval: deps.config.interval,
      startTime: deps.config.startTime,
      clock: deps.clock,
      lock: this.lock,
      logger: deps.logger,
      onTick: () => this.scheduledCycle(),
      onSkip: () => this.notify((o) => o.tickSkipped?.("busy")),
    });
  }

  /** Time of the next timer tick in milliseconds since the epoch, for the liveness probe. */
  get nextTickAt(): number {
    return this.scheduler.nextTick;
  }

  /** Starts the timer and returns the time of the first cycle in milliseconds since the epoch. */
  start(): number {
    return this.scheduler.start();
  }

  /** Reports whether stop() has been called. */
  get stopping(): boolean {
    return this.shutdown.signal.aborted;
  }

  /**
   * Runs one cycle under the lock's rules, with the cycle deadline and the shutdown signal.
   * Throws CycleBusyError when another cycle is running.
   */
  runExclusive(runType: RunType, options: CycleOptions = {}): Promise<CycleResult> {
    return this.lock.tryRun(() => this.cycle(runType, options));
  }

  /** Runs one cycle for an API call, waiting up to `waitMs` for a running cycle to finish. */
  runWhenFree(runType: RunType, options: CycleOptions, waitMs: number): Promise<CycleResult> {
    return this.lock.run(() => this.cycle(runType, options), waitMs);
  }

  /** Stops the timer, cancels a running cycle and waits for it to end, at most SHUTDOWN_GRACE_MS. */
  async stop(reason: string): Promise<void> {
    if (this.shutdown.signal.aborted) return;
    this.scheduler.stop();
    this.shutdown.abort(new Error(reason));
    let timer: Timer | undefined;
    await Promise.race([this.lock.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_GRACE_MS)))]);
    clearTimeout(timer);
  }

  private async scheduledCycle(): Promise<void> {
    if (this.deps.gate !== undefined && !this.deps.gate.isLeader()) {
      this.deps.logger.v(2).info("not the leader, cycle skipped");
      this.notify((o) => o.tickSkipped?.("not-leader"));
      return;
    }
    try {
      await this.cycle("scaler", {});
    } catch {
      // cycle() has logged the failure.
    }
  }

  private notify(action: (observer: AgentObserver) => void): void {
    for (const observer of this.deps.observers ?? []) {
      try {
        action(observer);
      } catch (error) {
        this.deps.logger.error("cycle observer failed", { error: errorMessage(error) });
      }
    }
  }

  private async cycle(runType: RunType, options: CycleOptions): Promise<CycleResult> {
    const { logger } = this.deps;
    const deadlineMs = cycleDeadlineMs(this.deps.config);
    const deadline = deadlineMs === undefined ? undefined : AbortSignal.timeout(deadlineMs);
    const leadership = options.dryRun ? undefined : this.deps.gate?.leadershipSignal();
    const signals = [this.shutdown.signal, deadline, leadership].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length === 1 ? signals[0]! : AbortSignal.any(signals);
    const started = performance.now();
    try {
      const result = await runCycle(
        { ...this.deps, window: this.window },
        { runType, dryRun: options.dryRun, metricsOnly: options.metricsOnly, signal },
      );
      this.consecutiveFailures = 0;
      const durationMs = Math.round(performance.now() - started);
      logger.v(1).info("cycle finished", { runType, currentReplicas: result.currentReplicas, targetReplicas: result.targetReplicas, durationMs });
      this.notify((o) => o.cycleSucceeded?.({ runType, dryRun: options.dryRun ?? false, result, durationMs }));
      return result;
    } catch (error) {
      this.consecutiveFailures += 1;
      const durationMs = Math.round(performance.now() - started);
      if (this.shutdown.signal.aborted) {
        logger.info("cycle cancelled by shutdown", { runType, durationMs });
        throw new CycleAbortedError("cycle cancelled by shutdown", { cause: error });
      }
      const failure = this.describeFailure(error, deadline, deadlineMs, leadership);
      this.logFailure(failure, runType, durationMs);
      this.notify((o) => o.cycleFailed?.({ runType, error: failure, durationMs, consecutiveFailures: this.consecutiveFailures }));
      throw failure;
    }
  }

  private describeFailure(error: unknown, deadline: AbortSignal | undefined, deadlineMs: number | undefined, leadership: AbortSignal | undefined): unknown {
    if (deadline?.aborted) {
      return new CycleError("deadline", `cycle did not finish within ${deadlineMs} ms (cycleTimeout): ${errorMessage(error)}`, { cause: error });
    }
    if (leadership?.aborted) {
      return new CycleError("leader-election", `cycle stopped because this agent lost the leader lease: ${errorMessage(error)}`, { cause: error });
    }
    return error;
  }

  private logFailure(error: unknown, runType: RunType, durationMs: number): void {
    const stage = error instanceof CycleError ? error.step : undefined;
    const method = findCause(error, MethodError);
    this.deps.logger.error("cycle failed", {
      runType,
      stage,
      durationMs,
      count: this.consecutiveFailures,
      error: errorMessage(error),
      exitCode: method?.exitCode,
      signal: method?.signal,
      stderr: method && method.stderr !== "" ? truncate(method.stderr, 2000) : undefined,
      output: method && method.stdout !== "" ? truncate(method.stdout, 2000) : undefined,
    });
  }
}
