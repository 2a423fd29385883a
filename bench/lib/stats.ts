/** Summary statistics and number formatting for benchmark samples. */

export interface Summary {
  readonly count: number;
  readonly median: number;
  /** 90th percentile by the nearest-rank method. */
  readonly p90: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

/** Returns the value at percentile `p` (0 to 100) of `sorted` by the nearest-rank method. */
function nearestRank(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Summarizes `samples`. Throws on an empty list, because a benchmark without samples has failed. */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error("no samples to summarize");
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return { count: sorted.length, median, p90: nearestRank(sorted, 90), mean, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** Formats a number with `digits` decimals, or with none from 100 upwards. */
export function formatNumber(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(digits);
}
