/**
 * The scaling rules as pure functions over numbers and times in milliseconds: clamping to the
 * replica limits, the disabled-at-zero rule and downscale stabilization.
 */

export interface ReplicaLimits {
  readonly minReplicas: number;
  readonly maxReplicas: number;
}

export interface ClampResult {
  readonly replicas: number;
  /** The limit that changed the value, or undefined when it was within limits. */
  readonly limitedBy: "minReplicas" | "maxReplicas" | undefined;
}

/** Clamps an evaluated replica count into `[minReplicas, maxReplicas]`. */
export function clampReplicas(evaluated: number, limits: ReplicaLimits): ClampResult {
  if (evaluated < limits.minReplicas) return { replicas: limits.minReplicas, limitedBy: "minReplicas" };
  if (evaluated > limits.maxReplicas) return { replicas: limits.maxReplicas, limitedBy: "maxReplicas" };
  return { replicas: evaluated, limitedBy: undefined };
}

/**
 * Reports whether autoscaling is off for this target: a target at 0 replicas stays there unless
 * `minReplicas` is 0, so that scaling a workload to zero by hand switches autoscaling off.
 */
export function isScalingDisabled(currentReplicas: number, minReplicas: number): boolean {
  return currentReplicas === 0 && minReplicas !== 0;
}

export interface StabilizationEntry {
  /** Milliseconds since the Unix epoch. */
  readonly time: number;
  readonly replicas: number;
}

export interface StabilizationResult {
  /** The replica count to apply: the maximum over the window and the new target. */
  readonly replicas: number;
  /** The window after pruning and adding the new target. */
  readonly history: readonly StabilizationEntry[];
}

/**
 * Applies downscale stabilization: entries strictly older than `now - windowSeconds` are dropped,
 * the new target is added, and the result is the maximum of all kept targets. A window of 0 keeps
 * no history. Scale-up is never delayed, because the new target takes part in the maximum.
 */
export function stabilize(
  history: readonly StabilizationEntry[],
  target: number,
  now: number,
  windowSeconds: number,
): StabilizationResult {
  if (windowSeconds <= 0) return { replicas: target, history: [] };
  const cutoff = now - windowSeconds * 1000;
  const recent = history.filter((entry) => entry.time >= cutoff);
  const next = [...recent, { time: now, replicas: target }];
  const replicas = next.reduce((max, entry) => Math.max(max, entry.replicas), 0);
  return { replicas, history: next };
}

/**
 * The downscale stabilization state of one target. Seeded with the current replica count the
 * first time the target is seen, so a restart cannot cause an immediate scale-down.
 */
export class StabilizationWindow {
  private history: readonly StabilizationEntry[] = [];
  private seeded = false;

  constructor(private readonly windowSeconds: number) {}

  /** Records the current replica count once, at the first sight of the target. */
  seed(currentReplicas: number, now: number): void {
    if (this.seeded) return;
    this.seeded = true;
    if (this.windowSeconds > 0) this.history = [{ time: now, replicas: currentReplicas }];
  }

  /** Returns the replicas to apply and records the target. */
  apply(target: number, now: number): number {
    const result = stabilize(this.history, target, now, this.windowSeconds);
    this.history = result.history;
    return result.replicas;
  }

  /** Returns the replicas that `apply` would return, without recording anything (dry runs). */
  peek(target: number, now: number): number {
    return stabilize(this.history, target, now, this.windowSeconds).replicas;
  }

  /** Returns a copy of the recorded entries. */
  entries(): readonly StabilizationEntry[] {
    return [...this.history];
  }
}
